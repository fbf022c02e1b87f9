// UpdateWorkflowExecutionOptions: a run's versioning override set or
// removed, recorded as a WorkflowExecutionOptionsUpdated event. Tasks
// scheduled afterwards go where the new override says.
#include "history_engine.h"
#include "kairos/history/versioning.h"

namespace kairos::history {

grpc::Status HistoryEngine::UpdateWorkflowExecutionOptions(const NamespaceRef& ns,
                                                           const wsv1::UpdateWorkflowExecutionOptionsRequest& req,
                                                           wsv1::UpdateWorkflowExecutionOptionsResponse* resp) {
  bool versioning = false;
  for (const auto& path : req.update_mask().paths()) {
    if (path == "versioning_override" || path == "versioningOverride") {
      versioning = true;
    } else if (path != "priority") {
      return errors::InvalidArgument("error applying update_options: unsupported field in update_mask: " + path);
    }
  }
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  const auto& wanted = req.workflow_execution_options().versioning_override();
  if (!versioning || wanted.SerializeAsString() == state->versioning_info().versioning_override().SerializeAsString()) {
    *resp->mutable_workflow_execution_options()->mutable_versioning_override() = state->versioning_info().versioning_override();
    if (!state->versioning_info().has_versioning_override())
      resp->mutable_workflow_execution_options()->clear_versioning_override();
    return grpc::Status::OK;  // Nothing changes: no event, as in Temporal.
  }
  MutableState ms(*state, env_, NowNanos());
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED);
  e.set_worker_may_ignore(true);  // As Temporal marks it: SDKs that do not know it skip it.
  auto* a = e.mutable_workflow_execution_options_updated_event_attributes();
  a->set_identity(req.identity());
  bool unset = !req.workflow_execution_options().has_versioning_override();
  if (unset) a->set_unset_versioning_override(true); else *a->mutable_versioning_override() = wanted;
  if (SetVersioningOverride(&ms.s(), unset ? temporal::api::workflow::v1::VersioningOverride() : wanted))
    MarkVersioningSearchAttributesChanged(ms);
  if (auto st = Commit(ms); !st.ok()) return st;
  if (!unset) *resp->mutable_workflow_execution_options()->mutable_versioning_override() = wanted;
  return grpc::Status::OK;
}

}  // namespace kairos::history
