// The batcher's RPCs and its table of batches. Every change of a batch is
// one store commit; the runner (batch_runner.cc) does the work.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "batch_engine.h"
#include "kairos/errors.h"
#include "kairos/ids.h"
#include "kairos/time_util.h"
#include "kairos/visibility/query.h"

namespace kairos::batcher {
namespace {

enums::BatchOperationType TypeOf(const wsv1::StartBatchOperationRequest& req) {
  switch (req.operation_case()) {
    case wsv1::StartBatchOperationRequest::kTerminationOperation: return enums::BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW;
    case wsv1::StartBatchOperationRequest::kCancellationOperation: return enums::BATCH_OPERATION_TYPE_CANCEL_WORKFLOW;
    case wsv1::StartBatchOperationRequest::kSignalOperation: return enums::BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW;
    case wsv1::StartBatchOperationRequest::kDeletionOperation: return enums::BATCH_OPERATION_TYPE_DELETE_WORKFLOW;
    default: return enums::BATCH_OPERATION_TYPE_UNSPECIFIED;
  }
}

// The query a batch works through: the operations that only make sense on
// open workflows look at running ones only, as Temporal narrows them.
std::string EffectiveQuery(const wsv1::StartBatchOperationRequest& req) {
  if (req.visibility_query().empty() || req.operation_case() == wsv1::StartBatchOperationRequest::kDeletionOperation)
    return req.visibility_query();
  return "(" + req.visibility_query() + ") AND (ExecutionStatus='Running' OR ExecutionStatus='Paused')";
}

std::string IdentityOf(const wsv1::StartBatchOperationRequest& req) {
  switch (req.operation_case()) {
    case wsv1::StartBatchOperationRequest::kTerminationOperation: return req.termination_operation().identity();
    case wsv1::StartBatchOperationRequest::kCancellationOperation: return req.cancellation_operation().identity();
    case wsv1::StartBatchOperationRequest::kSignalOperation: return req.signal_operation().identity();
    case wsv1::StartBatchOperationRequest::kDeletionOperation: return req.deletion_operation().identity();
    default: return "";
  }
}

void FillInfo(const records::BatchOperationRecord& rec, temporal::api::batch::v1::BatchOperationInfo* info) {
  info->set_job_id(rec.request().job_id());
  info->set_state(static_cast<enums::BatchOperationState>(rec.state()));
  *info->mutable_start_time() = NanosToTimestamp(rec.start_time_nanos());
  if (rec.close_time_nanos()) *info->mutable_close_time() = NanosToTimestamp(rec.close_time_nanos());
}

}  // namespace

BatchEngine::BatchEngine(persistence::Store* store, history::HistoryService* history,
                         visibility::VisibilityService* visibility)
    : store_(store), history_(history), visibility_(visibility) {}

BatchEngine::~BatchEngine() { Stop(); }

void BatchEngine::Start() {
  {
    std::lock_guard lock(mu_);
    for (const auto& row : store_->LoadBatchOperations()) {
      records::BatchOperationRecord rec;
      if (rec.ParseFromString(row.record)) batches_[{row.namespace_id, row.job_id}] = std::move(rec);
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

void BatchEngine::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

grpc::Status BatchEngine::Persist(const records::BatchOperationRecord& rec) {
  persistence::WriteBatch batch;
  batch.batch_operation_upserts.push_back({rec.namespace_id(), rec.request().job_id(), rec.SerializeAsString()});
  return store_->Commit(std::move(batch));
}

grpc::Status BatchEngine::StartBatchOperation(const NamespaceRef& ns, const wsv1::StartBatchOperationRequest& req,
                                              wsv1::StartBatchOperationResponse*) {
  if (TypeOf(req) == enums::BATCH_OPERATION_TYPE_UNSPECIFIED)
    return errors::Unimplemented("StartBatchOperation with this operation type");
  // Only the syntax is checked up front; a query naming an unknown attribute
  // makes a batch that fails, as on Temporal.
  records::BatchOperationRecord rec;
  rec.set_namespace_id(ns.id);
  rec.set_namespace_name(ns.name);
  *rec.mutable_request() = req;
  rec.set_run_id(NewUuidV7());
  rec.set_state(enums::BATCH_OPERATION_STATE_RUNNING);
  rec.set_start_time_nanos(NowNanos());
  const auto& targets = req.target_executions();
  for (const auto& t : targets) {
    auto* e = rec.add_executions();
    e->set_workflow_id(t.business_id());
    e->set_run_id(t.run_id());
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  for (const auto& e : req.executions()) *rec.add_executions() = e;
#pragma GCC diagnostic pop
  if (!req.visibility_query().empty()) {
    visibility::ParsedQuery parsed;
    if (auto st = visibility::ParseQuery(req.visibility_query(), &parsed); !st.ok()) {
      const auto& m = st.error_message();
      auto from = m.find("syntax error at position");
      auto to = m.find(" near ", from);
      return errors::InvalidArgument("invalid visibility query: " +
                                     (from == std::string::npos ? m : m.substr(from, to - from)));
    }
    rec.set_query(EffectiveQuery(req));
    wsv1::CountWorkflowExecutionsRequest count;
    count.set_namespace_(ns.name);
    count.set_query(rec.query());
    wsv1::CountWorkflowExecutionsResponse counted;
    auto st = visibility_->Count(ns.id, count, &counted);
    if (!st.ok()) {
      rec.set_state(enums::BATCH_OPERATION_STATE_FAILED);
      rec.set_close_time_nanos(rec.start_time_nanos());
      spdlog::info("batch {}: {}", req.job_id(), st.error_message());
    }
    rec.set_total_operation_count(counted.count());
  } else {
    rec.set_total_operation_count(rec.executions_size());
  }
  Key key{ns.id, req.job_id()};
  {
    std::lock_guard lock(mu_);
    int running = 0;
    for (const auto& [k, b] : batches_) running += k.first == ns.id && b.state() == enums::BATCH_OPERATION_STATE_RUNNING;
    if (running >= kMaxConcurrentPerNamespace)
      return errors::ConcurrentLimit("Max concurrent batch operations is reached");
    if (auto it = batches_.find(key); it != batches_.end())
      return errors::WorkflowAlreadyStarted("Workflow execution already finished. WorkflowId: " + req.job_id() +
                                                ", RunId: " + it->second.run_id() +
                                                ". Workflow Id reuse policy: reject duplicate workflow Id.",
                                            "", it->second.run_id());
    if (auto st = Persist(rec); !st.ok()) return st;
    batches_[key] = std::move(rec);
  }
  cv_.notify_all();
  return grpc::Status::OK;
}

grpc::Status BatchEngine::DescribeBatchOperation(const NamespaceRef& ns, const wsv1::DescribeBatchOperationRequest& req,
                                                 wsv1::DescribeBatchOperationResponse* resp) {
  std::lock_guard lock(mu_);
  auto it = batches_.find({ns.id, req.job_id()});
  if (it == batches_.end()) return errors::NotFound("workflow not found for ID: " + req.job_id());
  const auto& rec = it->second;
  temporal::api::batch::v1::BatchOperationInfo info;
  FillInfo(rec, &info);
  resp->set_operation_type(TypeOf(rec.request()));
  resp->set_job_id(info.job_id());
  resp->set_state(info.state());
  *resp->mutable_start_time() = info.start_time();
  if (info.has_close_time()) *resp->mutable_close_time() = info.close_time();
  resp->set_total_operation_count(rec.total_operation_count());
  resp->set_complete_operation_count(rec.complete_operation_count());
  resp->set_failure_operation_count(rec.failure_operation_count());
  resp->set_identity(IdentityOf(rec.request()));
  resp->set_reason(rec.request().reason());
  resp->set_query(rec.request().visibility_query());
  for (const auto& e : rec.executions()) {
    auto* out = resp->add_executions();
    out->set_type(enums::EXECUTION_TYPE_WORKFLOW);
    out->set_business_id(e.workflow_id());
    out->set_run_id(e.run_id());
  }
  return grpc::Status::OK;
}

grpc::Status BatchEngine::ListBatchOperations(const NamespaceRef& ns, const wsv1::ListBatchOperationsRequest& req,
                                              wsv1::ListBatchOperationsResponse* resp) {
  std::lock_guard lock(mu_);
  // Running ones first, then newest first; a page token is the job id of
  // the last one listed.
  std::vector<const records::BatchOperationRecord*> mine;
  for (const auto& [key, rec] : batches_)
    if (key.first == ns.id) mine.push_back(&rec);
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) {
    bool ra = a->state() == enums::BATCH_OPERATION_STATE_RUNNING, rb = b->state() == enums::BATCH_OPERATION_STATE_RUNNING;
    if (ra != rb) return ra;
    if (a->start_time_nanos() != b->start_time_nanos()) return a->start_time_nanos() > b->start_time_nanos();
    return a->request().job_id() < b->request().job_id();
  });
  size_t begin = 0;
  if (!req.next_page_token().empty()) {
    auto it = std::find_if(mine.begin(), mine.end(),
                           [&](auto* r) { return r->request().job_id() == req.next_page_token(); });
    begin = it == mine.end() ? mine.size() : static_cast<size_t>(it - mine.begin()) + 1;
  }
  size_t page = req.page_size() > 0 && req.page_size() <= 1000 ? static_cast<size_t>(req.page_size()) : 1000;
  for (size_t i = begin; i < mine.size() && i < begin + page; ++i) FillInfo(*mine[i], resp->add_operation_info());
  if (begin + page < mine.size()) resp->set_next_page_token(mine[begin + page - 1]->request().job_id());
  return grpc::Status::OK;
}

grpc::Status BatchEngine::StopBatchOperation(const NamespaceRef& ns, const wsv1::StopBatchOperationRequest& req,
                                             wsv1::StopBatchOperationResponse*) {
  std::lock_guard lock(mu_);
  auto it = batches_.find({ns.id, req.job_id()});
  if (it == batches_.end()) return errors::NotFound("workflow not found for ID: " + req.job_id());
  if (it->second.state() != enums::BATCH_OPERATION_STATE_RUNNING)
    return errors::NotFound("workflow execution already completed");
  auto rec = it->second;
  rec.set_state(enums::BATCH_OPERATION_STATE_FAILED);
  rec.set_close_time_nanos(NowNanos());
  rec.set_stop_reason(req.reason());
  if (auto st = Persist(rec); !st.ok()) return st;
  it->second = std::move(rec);
  pages_.erase(it->first);
  cv_.notify_all();
  return grpc::Status::OK;
}

std::unique_ptr<BatchService> NewBatchService(persistence::Store* store, history::HistoryService* history,
                                              visibility::VisibilityService* visibility) {
  return std::make_unique<BatchEngine>(store, history, visibility);
}

}  // namespace kairos::batcher
