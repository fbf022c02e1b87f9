// Workflow queries: dispatch to workers as query tasks or riding along with
// a workflow task, and their answers.
#include "history_engine.h"
#include "kairos/history/versioning.h"
#include "wire_history.h"

namespace kairos::history {

void HistoryEngine::QueryWorkflow(const NamespaceRef& ns, const wsv1::QueryWorkflowRequest* req, wsv1::QueryWorkflowResponse* resp,
                                  Deadline deadline, Done done) {
  if (req->query().query_type().empty()) return done(errors::InvalidArgument("QueryType is not set on request."));
  StatePtr state;
  {
    std::lock_guard wf_lock(LockFor(ns.id, req->execution().workflow_id()));
    if (auto st = Resolve(ns.id, req->execution(), &state); !st.ok()) return done(st);
  }
  auto status = state->status();
  bool closed = status != enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
  auto reject = req->query_reject_condition();
  if ((reject == enums::QUERY_REJECT_CONDITION_NOT_OPEN && closed) ||
      (reject == enums::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY && closed &&
       status != enums::WORKFLOW_EXECUTION_STATUS_COMPLETED)) {
    resp->mutable_query_rejected()->set_status(status);
    return done(grpc::Status::OK);
  }
  if (auto st = CheckQueryAnswerable(*state); !st.ok()) return done(st);
  ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
  std::string id = NewUuid();
  {
    std::lock_guard lock(queries_mu_);
    queries_[id] = PendingQuery{key, req->query(), resp, std::move(done), PendingQuery::kWaiting, 0};
    queries_by_run_[RunKey(key)].push_back(id);
  }
  AddWaiter("q:" + id, deadline, [this, id](bool expired) {
    if (expired)
      FinishQuery(id, errors::DeadlineExceeded("query timed out: no worker answered before the deadline"), nullptr);
  });
  DispatchQueries(key);
}

// As Temporal's matching refuses a query sent to a pinned run's version
// that is drained while no worker polls the task queue (it could only time
// out). A query that would ride on a pending workflow task, or go to a
// live sticky worker, is not checked.
grpc::Status HistoryEngine::CheckQueryAnswerable(const State& s) {
  if (!env_.deployments.query_blackholed || s.workflow_task().attempt() != 0) return grpc::Status::OK;
  if (!s.sticky_task_queue().empty() && matching_->HasRecentPoller(s.namespace_id(), s.sticky_task_queue()))
    return grpc::Status::OK;
  auto version = PinnedDeploymentVersionOf(s);
  if (version.build_id().empty() ||
      !env_.deployments.query_blackholed(s.namespace_id(), s.start().task_queue().name(), version))
    return grpc::Status::OK;
  const std::string& b = version.build_id();
  return errors::FailedPrecondition(
      "You are trying to query a closed Workflow that is PINNED to Worker Deployment Version " + b + ", but " + b +
      " is drained and has no pollers to answer the query. Immediately: You can re-deploy Workers in this Deployment "
      "Version to take those queries, or you can workflow update-options to change your workflow to AUTO_UPGRADE. For "
      "the future: In your infrastructure, consider waiting longer after the last queried timestamp as reported in "
      "Describe Deployment before you sunset Workers. Or mark this workflow as AUTO_UPGRADE.");
}

grpc::Status HistoryEngine::RespondQueryTaskCompleted(const NamespaceRef& ns, const wsv1::RespondQueryTaskCompletedRequest& req) {
  records::TaskToken token;
  if (auto st = ParseToken(req.task_token(), ns, &token); !st.ok()) return st;
  if (token.query_id().empty()) return errors::InvalidArgument("Task token is not a query task token.");
  temporal::api::query::v1::WorkflowQueryResult result;
  result.set_result_type(req.completed_type());
  *result.mutable_answer() = req.query_result();
  result.set_error_message(req.error_message());
  if (req.has_failure()) *result.mutable_failure() = req.failure();
  if (!FinishQuery(token.query_id(), grpc::Status::OK, &result))
    return errors::NotFound("query " + token.query_id() + " is no longer pending");
  return grpc::Status::OK;
}

bool HistoryEngine::FinishQuery(const std::string& id, grpc::Status status,
                                const temporal::api::query::v1::WorkflowQueryResult* result) {
  PendingQuery q;
  {
    std::lock_guard lock(queries_mu_);
    auto it = queries_.find(id);
    if (it == queries_.end()) return false;
    q = std::move(it->second);
    queries_.erase(it);
    auto& ids = queries_by_run_[RunKey(q.key)];
    std::erase(ids, id);
    if (ids.empty()) queries_by_run_.erase(RunKey(q.key));
  }
  if (result) {
    if (result->result_type() == enums::QUERY_RESULT_TYPE_ANSWERED) {
      *q.resp->mutable_query_result() = result->answer();
    } else {
      status = errors::QueryFailed(result->error_message());
    }
  }
  NotifyWaiters("q:" + id);
  q.done(status);
  return true;
}

void HistoryEngine::AnswerQueries(const wsv1::RespondWorkflowTaskCompletedRequest& req) {
  for (const auto& [id, result] : req.query_results()) FinishQuery(id, grpc::Status::OK, &result);
}

void HistoryEngine::DispatchQueries(const ExecutionKey& key) {
  StatePtr state = Load(key);
  if (!state) return;
  const auto& w = state->workflow_task();
  std::vector<std::string> dispatch;
  {
    std::lock_guard lock(queries_mu_);
    auto it = queries_by_run_.find(RunKey(key));
    if (it == queries_by_run_.end()) return;
    for (const auto& id : it->second) {
      auto& q = queries_[id];
      if (q.state == PendingQuery::kAttached && (w.attempt() == 0 || w.started_event_id() != q.attached_to))
        q.state = PendingQuery::kWaiting;  // Its workflow task ended without an answer.
      if (q.state == PendingQuery::kWaiting && w.attempt() == 0) {
        q.state = PendingQuery::kDispatched;
        dispatch.push_back(id);
      }
    }
  }
  for (const auto& id : dispatch) {
    records::QueueTask task;
    task.set_kind(records::QueueTask::WORKFLOW);
    task.set_namespace_id(key.namespace_id);
    const std::string& sticky = state->sticky_task_queue();
    bool use_sticky = !sticky.empty() && matching_->HasRecentPoller(key.namespace_id, sticky);
    task.set_task_queue(use_sticky ? sticky : state->start().task_queue().name());
    if (use_sticky) task.set_normal_task_queue(state->start().task_queue().name());
    // A pinned run's queries go to its version; a run of the deprecated
    // build-id versioning's to a build compatible with its own.
    task.set_pinned_version(PinnedVersionOf(*state));
    if (task.pinned_version().empty()) task.set_pinned_version(BuildIdDirectiveOf(*state, task));
    task.set_workflow_id(key.workflow_id);
    task.set_run_id(key.run_id);
    task.set_query_id(id);
    matching_->AddTask(store_->NextId(), std::move(task));
  }
}

grpc::Status HistoryEngine::StartQueryTask(const records::QueueTask& task, wsv1::PollWorkflowTaskQueueResponse* resp) {
  ExecutionKey key{task.namespace_id(), task.workflow_id(), task.run_id()};
  auto state = Load(key);
  temporal::api::query::v1::WorkflowQuery query;
  {
    std::lock_guard lock(queries_mu_);
    auto it = queries_.find(task.query_id());
    if (it == queries_.end() || it->second.state != PendingQuery::kDispatched || !state)
      return errors::NotFound("query is no longer pending");
    if (state->workflow_task().attempt() != 0) {
      // A workflow task appeared meanwhile: the query goes with it.
      it->second.state = PendingQuery::kWaiting;
      return errors::NotFound("query moved to the pending workflow task");
    }
    query = it->second.query;
  }
  const State& s = *state;
  records::TaskToken token;
  token.set_namespace_id(s.namespace_id());
  token.set_workflow_id(s.workflow_id());
  token.set_run_id(s.run_id());
  token.set_query_id(task.query_id());
  resp->set_task_token(token.SerializeAsString());
  *resp->mutable_workflow_execution() = Execution(s);
  *resp->mutable_workflow_type() = s.start().workflow_type();
  resp->set_previous_started_event_id(s.last_completed_wft_started_event_id());
  // The worker replays the whole history it is sent to answer the query.
  resp->set_started_event_id(s.next_event_id() - 1);
  resp->set_attempt(1);
  *resp->mutable_workflow_execution_task_queue() = s.start().task_queue();
  *resp->mutable_query() = std::move(query);
  WireHistory history(resp);
  for (const auto& bytes : store_->ReadEvents(key, 1, s.next_event_id(), std::numeric_limits<int>::max()))
    history.AddSerialized(bytes);
  return grpc::Status::OK;
}

void HistoryEngine::AttachQueries(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp) {
  std::lock_guard lock(queries_mu_);
  auto it = queries_by_run_.find(RunKey({s.namespace_id(), s.workflow_id(), s.run_id()}));
  if (it == queries_by_run_.end()) return;
  for (const auto& id : it->second) {
    auto& q = queries_[id];
    if (q.state != PendingQuery::kWaiting) continue;
    q.state = PendingQuery::kAttached;
    q.attached_to = s.workflow_task().started_event_id();
    (*resp->mutable_queries())[id] = q.query;
  }
}

}  // namespace kairos::history
