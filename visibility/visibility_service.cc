#include "kairos/visibility/visibility_service.h"

#include <charconv>

#include "kairos/errors.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"
#include "kairos/visibility/query_sql.h"

namespace kairos::visibility {
namespace {

constexpr std::string_view kTokenPrefix = "kv1:";

std::string EncodeToken(const persistence::VisibilityCursor& c) {
  return std::string(kTokenPrefix) + std::to_string(c.close_order) + ":" + std::to_string(c.start_time_nanos) + ":" +
         c.run_id;
}

bool DecodeToken(const std::string& token, persistence::VisibilityCursor* c) {
  if (token.rfind(kTokenPrefix, 0) != 0) return false;
  std::string_view rest(token);
  rest.remove_prefix(kTokenPrefix.size());
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  if (std::from_chars(rest.data(), rest.data() + colon, c->close_order).ec != std::errc()) return false;
  rest.remove_prefix(colon + 1);
  colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  if (std::from_chars(rest.data(), rest.data() + colon, c->start_time_nanos).ec != std::errc()) return false;
  c->run_id = std::string(rest.substr(colon + 1));
  return true;
}

int PageSize(int requested) { return requested <= 0 || requested > kMaxPageSize ? kMaxPageSize : requested; }

// A time-range condition for ListOpen/ListClosed's start time filter.
void TimeRange(const temporal::api::filter::v1::StartTimeFilter& f, const char* column,
               persistence::VisibilityFilter* out) {
  if (f.has_earliest_time()) {
    out->where += std::string(" AND ") + column + " >= ?";
    out->params.emplace_back(TimestampToNanos(f.earliest_time()));
  }
  if (f.has_latest_time() && TimestampToNanos(f.latest_time()) > 0) {
    out->where += std::string(" AND ") + column + " <= ?";
    out->params.emplace_back(TimestampToNanos(f.latest_time()));
  }
}

}  // namespace

grpc::Status VisibilityService::Page(const std::string& namespace_id, const persistence::VisibilityFilter& filter,
                                     int page_size, const std::string& token, Executions* out,
                                     std::string* next_token, const std::string& attributes_namespace_id) {
  const std::string& types_of = attributes_namespace_id.empty() ? namespace_id : attributes_namespace_id;
  persistence::VisibilityCursor cursor;
  bool has_cursor = !token.empty();
  if (has_cursor && !DecodeToken(token, &cursor)) return errors::InvalidArgument("Invalid NextPageToken.");
  int page = PageSize(page_size);
  std::vector<persistence::VisibilityRow> rows;
  if (auto st = store_->QueryVisibility(namespace_id, filter, has_cursor ? &cursor : nullptr, page + 1, &rows);
      !st.ok())
    return errors::Unavailable("ListWorkflowExecutions operation failed. " + st.error_message());
  for (int i = 0; i < static_cast<int>(rows.size()) && i < page; ++i) {
    auto* info = out->Add();
    info->ParseFromString(rows[i].info);
    if (info->has_search_attributes()) attributes_->AddTypeMetadata(types_of, info->mutable_search_attributes());
  }
  if (static_cast<int>(rows.size()) > page) {
    const auto& last = rows[page - 1];
    next_token->assign(EncodeToken({last.close_time_nanos ? last.close_time_nanos : INT64_MAX, last.start_time_nanos,
                                    last.key.run_id}));
  }
  return grpc::Status::OK;
}

grpc::Status VisibilityService::List(const std::string& namespace_id, const wsv1::ListWorkflowExecutionsRequest& req,
                                     wsv1::ListWorkflowExecutionsResponse* resp) {
  TranslatedQuery q;
  if (auto st = TranslateQuery(req.query(), attributes_->Custom(namespace_id), QueryUse::kList, &q); !st.ok()) return st;
  return Page(namespace_id, q.filter, req.page_size(), req.next_page_token(), resp->mutable_executions(),
              resp->mutable_next_page_token());
}

grpc::Status VisibilityService::Scan(const std::string& namespace_id, const wsv1::ScanWorkflowExecutionsRequest& req,
                                     wsv1::ScanWorkflowExecutionsResponse* resp) {
  TranslatedQuery q;
  if (auto st = TranslateQuery(req.query(), attributes_->Custom(namespace_id), QueryUse::kList, &q); !st.ok()) return st;
  return Page(namespace_id, q.filter, req.page_size(), req.next_page_token(), resp->mutable_executions(),
              resp->mutable_next_page_token());
}

grpc::Status VisibilityService::Count(const std::string& namespace_id, const wsv1::CountWorkflowExecutionsRequest& req,
                                      wsv1::CountWorkflowExecutionsResponse* resp) {
  TranslatedQuery q;
  if (auto st = TranslateQuery(req.query(), attributes_->Custom(namespace_id), QueryUse::kCount, &q); !st.ok())
    return st;
  return CountRows(namespace_id, q, resp);
}

grpc::Status VisibilityService::ListNexusOperations(const std::string& namespace_id,
                                                    const std::string& rows_namespace_id, const std::string& query,
                                                    int page_size, const std::string& token,
                                                    wsv1::ListWorkflowExecutionsResponse* resp) {
  TranslatedQuery q;
  if (auto st = TranslateQuery(query, attributes_->Custom(namespace_id), QueryUse::kList, &q,
                               QueryTarget::kNexusOperations);
      !st.ok())
    return st;
  return Page(rows_namespace_id, q.filter, page_size, token, resp->mutable_executions(),
              resp->mutable_next_page_token(), namespace_id);
}

grpc::Status VisibilityService::CountNexusOperations(const std::string& namespace_id,
                                                     const std::string& rows_namespace_id, const std::string& query,
                                                     wsv1::CountWorkflowExecutionsResponse* resp) {
  TranslatedQuery q;
  if (auto st = TranslateQuery(query, attributes_->Custom(namespace_id), QueryUse::kCount, &q,
                               QueryTarget::kNexusOperations);
      !st.ok())
    return st;
  return CountRows(rows_namespace_id, q, resp);
}

grpc::Status VisibilityService::CountRows(const std::string& namespace_id, const TranslatedQuery& q,
                                          wsv1::CountWorkflowExecutionsResponse* resp) {
  std::vector<std::pair<persistence::SqlValue, int64_t>> groups;
  int64_t count = 0;
  if (auto st = store_->CountVisibility(namespace_id, q.filter, q.group_column, &groups, &count); !st.ok())
    return errors::Unavailable("CountWorkflowExecutions operation failed. " + st.error_message());
  resp->set_count(count);
  for (const auto& [value, n] : groups) {
    auto* g = resp->add_groups();
    g->set_count(n);
    auto* p = g->add_group_values();
    std::string json = "null";
    if (const auto* i = std::get_if<int64_t>(&value)) {
      json = q.group_by == "ExecutionStatus" ? "\"" + StatusName(static_cast<int>(*i)) + "\"" : std::to_string(*i);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      json = "\"" + *s + "\"";  // Keywords from Kairos's own columns: ids and names.
    }
    (*p->mutable_metadata())["encoding"] = json == "null" ? "binary/null" : "json/plain";
    (*p->mutable_metadata())["type"] = TypeName(q.group_type);
    if (json != "null") p->set_data(json);
  }
  return grpc::Status::OK;
}

namespace {

// The filters ListOpen and ListClosed share (one of them at most); returns
// whether one applied.
template <class Request>
bool ExecutionOrTypeFilter(const Request& req, persistence::VisibilityFilter* f) {
  if (req.has_execution_filter()) {
    f->where += " AND v.workflow_id = ?";
    f->params.emplace_back(req.execution_filter().workflow_id());
    return true;
  }
  if (req.has_type_filter()) {
    f->where += " AND v.workflow_type = ?";
    f->params.emplace_back(req.type_filter().name());
    return true;
  }
  return false;
}

}  // namespace

grpc::Status VisibilityService::ListOpen(const std::string& namespace_id,
                                         const wsv1::ListOpenWorkflowExecutionsRequest& req,
                                         wsv1::ListOpenWorkflowExecutionsResponse* resp) {
  persistence::VisibilityFilter f;
  f.where = "v.status = 1 AND v.namespace_division IS NULL";
  TimeRange(req.start_time_filter(), "v.start_time_nanos", &f);
  ExecutionOrTypeFilter(req, &f);
  return Page(namespace_id, f, req.maximum_page_size(), req.next_page_token(), resp->mutable_executions(),
              resp->mutable_next_page_token());
}

grpc::Status VisibilityService::ListClosed(const std::string& namespace_id,
                                           const wsv1::ListClosedWorkflowExecutionsRequest& req,
                                           wsv1::ListClosedWorkflowExecutionsResponse* resp) {
  persistence::VisibilityFilter f;
  f.where = "v.status != 1 AND v.namespace_division IS NULL";
  TimeRange(req.start_time_filter(), "v.close_time_nanos", &f);
  if (!ExecutionOrTypeFilter(req, &f) && req.has_status_filter()) {
    f.where += " AND v.status = ?";
    f.params.emplace_back(static_cast<int64_t>(req.status_filter().status()));
  }
  return Page(namespace_id, f, req.maximum_page_size(), req.next_page_token(), resp->mutable_executions(),
              resp->mutable_next_page_token());
}

}  // namespace kairos::visibility
