#include "kairos/http/ui_site.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "kairos/webui/assets.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::http {
namespace {

using nlohmann::ordered_json;
namespace wf = temporal::api::workflowservice::v1;

// The answer of the UI server's /api/v1/settings for a local server: no
// auth, no codec, every action allowed.
std::string Settings() {
  ordered_json s;
  s["Auth"] = {{"Enabled", false}, {"Options", nullptr}, {"RedirectToProvider", false}};
  s["DefaultNamespace"] = "default";
  s["ShowTemporalSystemNamespace"] = false;
  s["NavCollapsedByDefault"] = false;
  s["FeedbackURL"] = "";
  s["DisableNewsFetch"] = false;
  s["Codec"] = {{"Endpoint", ""},
                {"PassAccessToken", false},
                {"IncludeCredentials", false},
                {"DefaultErrorMessage", ""},
                {"DefaultErrorLink", ""}};
  s["Version"] = std::string(webui::Version());
  for (const char* flag : {"DisableWriteActions", "WorkflowTerminateDisabled", "WorkflowCancelDisabled",
                           "WorkflowSignalDisabled", "WorkflowUpdateDisabled", "WorkflowResetDisabled",
                           "WorkflowPauseDisabled", "BatchActionsDisabled", "StartWorkflowDisabled",
                           "HideWorkflowQueryErrors", "RefreshWorkflowCountsDisabled", "ActivityCommandsDisabled"})
    s[flag] = false;
  return s.dump();
}

// /api/v1/namespaces/NS/workflows/WF/run/RUN/history.json: every event of
// the run, page after page, as one JSON array; an error after some events is
// appended as {"error": ...}, as the UI server does.
HttpReply RawHistory(const ApiHandler& api, const ApiRequest& request, const std::string& ns,
                     const std::string& workflow_id, const std::string& run_id) {
  std::string out = "[";
  int written = 0;
  wf::GetWorkflowExecutionHistoryRequest req;
  req.set_namespace_(ns);
  req.mutable_execution()->set_workflow_id(workflow_id);
  req.mutable_execution()->set_run_id(run_id);
  for (;;) {
    wf::GetWorkflowExecutionHistoryResponse resp;
    auto st = api.Call("/temporal.api.workflowservice.v1.WorkflowService/GetWorkflowExecutionHistory", req, &resp,
                       request.metadata);
    if (!st.ok()) {
      out += (written > 0 ? "," : "") + ordered_json{{"error", st.error_message()}}.dump();
      break;
    }
    for (const auto& event : resp.history().events()) {
      if (written++ > 0) out += ",";
      out += GoStructJson(event) + "\n";
    }
    if (resp.next_page_token().empty()) break;
    req.set_next_page_token(resp.next_page_token());
  }
  out += "]";
  return {200, std::move(out)};
}

HttpReply FromAsset(const webui::Asset& asset) {
  HttpReply r{200, std::string(asset.body), asset.content_type};
  r.headers.emplace_back("Cache-Control", asset.cache_control);
  return r;
}

HttpReply Dispatch(const ApiHandler& api, const ApiRequest& request) {
  const std::string& path = request.raw_path;
  if (path.starts_with("/api/v1/")) {
    if (request.verb == "GET" && path == "/api/v1/settings") return {200, Settings()};
    static const std::regex raw_history("^/api/v1/namespaces/([^/]+)/workflows/([^/]+)/run/([^/]+)/history\\.json$");
    std::smatch m;
    if (request.verb == "GET" && std::regex_match(path, m, raw_history))
      return RawHistory(api, request, PercentDecode(m[1]), PercentDecode(m[2]), PercentDecode(m[3]));
    return api.Handle(request, OptionsFromQuery(request.query, false));
  }
  if (request.verb != "GET") return {405, "", "text/plain"};
  if (auto asset = webui::Find(PercentDecode(path))) return FromAsset(*asset);
  if (path.starts_with("/_app/")) return {404, "not found", "text/plain"};
  // The UI routes on the client: every other page is index.html.
  auto index = webui::Find("/index.html");
  if (!index) return {503, "the Web UI is not compiled in", "text/plain"};
  return FromAsset(*index);
}

}  // namespace

HttpReply ServeUi(const ApiHandler& api, const ApiRequest& request) {
  HttpReply reply = Dispatch(api, request);
  // The UI server's secure-headers defaults.
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("X-Frame-Options", "SAMEORIGIN");
  reply.headers.emplace_back("X-Xss-Protection", "1; mode=block");
  return reply;
}

}  // namespace kairos::http
