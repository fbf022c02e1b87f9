// Workflow updates: admission, the protocol messages from workers, and
// waiting for a lifecycle stage.
#include "history_engine.h"

namespace kairos::history {

namespace {

// WorkflowExecutionOptionsUpdated with one update's attached request and
// callbacks, as Temporal writes it: in the history now while a worker's
// task completes (`in_task`), else buffered while a task runs.
void AddUpdateOptionsEvent(MutableState& ms, const std::string& update_id, const std::string& request_id,
                           const google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback>& callbacks,
                           bool in_task) {
  auto type = enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED;
  auto& e = in_task ? ms.AddEvent(type) : ms.AddOrBufferEvent(type);
  e.set_worker_may_ignore(true);
  auto* o = e.mutable_workflow_execution_options_updated_event_attributes()->add_workflow_update_options();
  o->set_update_id(update_id);
  o->set_attached_request_id(request_id);
  *o->mutable_attached_completion_callbacks() = callbacks;
}

// Callbacks attached before the update was accepted: an options-updated
// event per attaching request after the accepted one (Temporal writes them
// then); the request's own callbacks are on the accepted event.
void AttachedUpdateCallbacksEvents(MutableState& ms, const std::string& update_id, const records::UpdateInfo& u) {
  google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback> group;
  for (int i = u.request().completion_callbacks_size(); i < u.completion_callbacks_size(); ++i) {
    *group.Add() = u.completion_callbacks(i);
    const std::string& id = u.callback_request_ids(i);
    if (i + 1 == u.completion_callbacks_size() || u.callback_request_ids(i + 1) != id) {
      AddUpdateOptionsEvent(ms, update_id, id, group, /*in_task=*/true);
      group.Clear();
    }
  }
}

// An update with completion callbacks reached its outcome: a durable step
// reports it to each (the Nexus operations it backs).
void ArmUpdateCallbacks(MutableState& ms, const std::string& update_id, const records::UpdateInfo& u,
                        int64_t event_id) {
  if (u.completion_callbacks_size() == 0) return;
  records::TimerTask t;
  t.set_kind(records::TimerTask::NEXUS_UPDATE_CALLBACK);
  t.set_event_id(event_id);
  t.set_timer_id(update_id);
  t.set_fire_time_nanos(ms.now());
  ms.AddTimer(std::move(t));
}

}  // namespace

void HistoryEngine::ReadmitUpdates(MutableState& ms) {
  for (auto& [id, u] : *ms.s().mutable_updates())
    if (u.state() == records::UpdateInfo::SENT) u.set_state(records::UpdateInfo::ADMITTED);
}

std::optional<CommandError> HistoryEngine::ApplyUpdateMessage(MutableState& ms, const temporal::api::protocol::v1::Message& m) {
  namespace uv1 = temporal::api::update::v1;
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE;
  auto& updates = *ms.s().mutable_updates();
  auto it = updates.find(m.protocol_instance_id());
  if (it == updates.end()) return CommandError{kBad, "Update " + m.protocol_instance_id() + " is not pending."};
  auto& u = it->second;
  if (m.body().Is<uv1::Acceptance>()) {
    uv1::Acceptance acceptance;
    m.body().UnpackTo(&acceptance);
    if (u.state() != records::UpdateInfo::SENT && u.state() != records::UpdateInfo::ADMITTED)
      return CommandError{kBad, "Update " + it->first + " cannot be accepted in its state."};
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    auto* a = e.mutable_workflow_execution_update_accepted_event_attributes();
    a->set_protocol_instance_id(it->first);
    a->set_accepted_request_message_id(acceptance.accepted_request_message_id());
    a->set_accepted_request_sequencing_event_id(acceptance.accepted_request_sequencing_event_id());
    auto* accepted = a->mutable_accepted_request();
    *accepted = acceptance.has_accepted_request() ? acceptance.accepted_request() : u.request();
    // What the client asked besides the update (the worker need not echo it).
    accepted->set_request_id(u.request().request_id());
    *accepted->mutable_completion_callbacks() = u.request().completion_callbacks();
    *accepted->mutable_links() = u.request().links();
    // As Temporal: the event links back to the Nexus callers (their callbacks' links).
    for (const auto& cb : u.request().completion_callbacks())
      if (cb.has_nexus())
        for (const auto& link : cb.links()) *e.add_links() = link;
    AttachedUpdateCallbacksEvents(ms, it->first, u);
    u.set_state(records::UpdateInfo::ACCEPTED);
    u.set_accepted_event_id(e.event_id());
  } else if (m.body().Is<uv1::Rejection>()) {
    uv1::Rejection rejection;
    m.body().UnpackTo(&rejection);
    if (u.state() != records::UpdateInfo::SENT && u.state() != records::UpdateInfo::ADMITTED)
      return CommandError{kBad, "Update " + it->first + " cannot be rejected in its state."};
    u.set_state(records::UpdateInfo::REJECTED);
    *u.mutable_outcome()->mutable_failure() = rejection.failure();
  } else if (m.body().Is<uv1::Response>()) {
    uv1::Response response;
    m.body().UnpackTo(&response);
    if (u.state() != records::UpdateInfo::ACCEPTED)
      return CommandError{kBad, "Update " + it->first + " must be accepted before it completes."};
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
    auto* a = e.mutable_workflow_execution_update_completed_event_attributes();
    *a->mutable_meta() = response.meta();
    a->set_accepted_event_id(u.accepted_event_id());
    *a->mutable_outcome() = response.outcome();
    u.set_state(records::UpdateInfo::COMPLETED);
    *u.mutable_outcome() = response.outcome();
    ArmUpdateCallbacks(ms, it->first, u, e.event_id());
  } else {
    return CommandError{kBad, "Unknown protocol message body " + m.body().type_url() + "."};
  }
  return std::nullopt;
}

namespace {

constexpr const char* kClosedBeforeCompletion = "AcceptedUpdateCompletedWorkflow";

// A request's callbacks join the update's, each with the request's id.
void TakeRequestCallbacks(records::UpdateInfo& u, const temporal::api::update::v1::Request& request) {
  for (const auto& cb : request.completion_callbacks()) {
    *u.add_completion_callbacks() = cb;
    u.add_callback_request_ids(request.request_id());
  }
}

// An accepted update the run closed under is "completed" with the server's
// failure; no worker completed it (Temporal has no outcome for it).
bool CompletedByWorker(const records::UpdateInfo& u) {
  if (u.state() != records::UpdateInfo::COMPLETED) return false;
  const auto& f = u.outcome().failure();
  return !(f.source() == "Server" && f.application_failure_info().type() == kClosedBeforeCompletion);
}

}  // namespace

void HistoryEngine::AbortUpdates(MutableState& ms) {
  bool next_run = ms.next_run().has_value();
  for (auto& [id, u] : *ms.s().mutable_updates()) {
    switch (u.state()) {
      case records::UpdateInfo::ACCEPTED: {
        auto* f = u.mutable_outcome()->mutable_failure();
        f->set_message("Workflow Update failed because the Workflow completed before the Update completed.");
        f->set_source("Server");
        f->mutable_application_failure_info()->set_type(kClosedBeforeCompletion);
        f->mutable_application_failure_info()->set_non_retryable(true);
        u.set_state(records::UpdateInfo::COMPLETED);
        ArmUpdateCallbacks(ms, id, u, ms.s().completion_event_id());
        break;
      }
      case records::UpdateInfo::ADMITTED:
      case records::UpdateInfo::SENT:
        u.set_state(records::UpdateInfo::ABORTED);
        u.set_aborted_for_next_run(next_run);
        break;
      default:
        break;
    }
  }
}

grpc::Status HistoryEngine::AdmitUpdate(const StatePtr& state, const temporal::api::update::v1::Request& request) {
  if (auto it = state->updates().find(request.meta().update_id()); it != state->updates().end())
    return AttachUpdateCallbacks(state, it->second, request);  // The same update.
  MutableState ms(*state, env_, NowNanos());
  records::UpdateInfo u;
  u.set_state(records::UpdateInfo::ADMITTED);
  *u.mutable_request() = request;
  TakeRequestCallbacks(u, request);
  u.set_message_id(request.meta().update_id() + "/request");
  u.set_admitted_time_nanos(ms.now());
  (*ms.s().mutable_updates())[request.meta().update_id()] = std::move(u);
  if (!ms.HasWorkflowTask()) ms.ScheduleWorkflowTask(1, true, /*speculative=*/true);
  return Commit(ms);
}

grpc::Status HistoryEngine::AttachUpdateCallbacks(const StatePtr& state, const records::UpdateInfo& known,
                                                  const temporal::api::update::v1::Request& request) {
  // As Temporal: a later request for an update not completed yet adds its
  // callbacks once per request id (a completed one answers its outcome).
  if (request.completion_callbacks_size() == 0) return grpc::Status::OK;
  if (known.state() != records::UpdateInfo::ADMITTED && known.state() != records::UpdateInfo::SENT &&
      known.state() != records::UpdateInfo::ACCEPTED)
    return grpc::Status::OK;
  for (const auto& id : known.callback_request_ids())
    if (id == request.request_id()) return grpc::Status::OK;
  MutableState ms(*state, env_, NowNanos());
  const std::string& update_id = request.meta().update_id();
  auto& u = (*ms.s().mutable_updates())[update_id];
  TakeRequestCallbacks(u, request);
  if (u.state() == records::UpdateInfo::ACCEPTED)
    AddUpdateOptionsEvent(ms, update_id, request.request_id(), request.completion_callbacks(), /*in_task=*/false);
  return Commit(ms);
}

void HistoryEngine::WaitUpdate(const ExecutionKey& key, const std::string& update_id,
                               enums::UpdateWorkflowExecutionLifecycleStage wanted,
                               Deadline deadline, UpdateFill fill, Done done, bool expired) {
  std::unique_lock wf_lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  if (!state) return done(WorkflowNotFound(key));
  common::WorkflowExecution exec = Execution(*state);
  auto it = state->updates().find(update_id);
  if (it == state->updates().end()) return done(errors::NotFound("update \"" + update_id + "\" not found"));
  const auto& u = it->second;
  if (u.state() == records::UpdateInfo::ABORTED) {
    wf_lock.unlock();
    // Retryable when a new run took over: the SDK retries onto it.
    return done(u.aborted_for_next_run()
                    ? errors::WorkflowBusy("workflow operation can not be applied because workflow is closing")
                    : errors::NotFound("workflow update was aborted by closing workflow"));
  }
  using Stage = enums::UpdateWorkflowExecutionLifecycleStage;
  Stage reached = u.state() == records::UpdateInfo::COMPLETED || u.state() == records::UpdateInfo::REJECTED
                      ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
                  : u.state() == records::UpdateInfo::ACCEPTED ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
                                                               : enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED;
  if (reached == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED) {
    auto outcome = u.outcome();
    wf_lock.unlock();
    fill(exec, reached, &outcome);
    return done(grpc::Status::OK);
  }
  if (reached >= wanted || expired || std::chrono::steady_clock::now() >= deadline) {
    wf_lock.unlock();
    fill(exec, reached, nullptr);
    return done(grpc::Status::OK);
  }
  AddWaiter(RunKey(key), deadline, [=, this](bool exp) { WaitUpdate(key, update_id, wanted, deadline, fill, done, exp); });
}

enums::UpdateWorkflowExecutionLifecycleStage HistoryEngine::WantedStage(const temporal::api::update::v1::WaitPolicy& p) {
  auto stage = p.lifecycle_stage();
  return stage == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED
             ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
             : stage;
}

HistoryEngine::UpdateFill HistoryEngine::FillUpdateResponse(wsv1::UpdateWorkflowExecutionResponse* resp,
                                                            const std::string& ns_name,
                                                            const temporal::api::update::v1::Request& request) {
  return [resp, ns_name, update_id = request.meta().update_id(), request_id = request.request_id()](
             const common::WorkflowExecution& exec, enums::UpdateWorkflowExecutionLifecycleStage stage,
             const temporal::api::update::v1::Outcome* outcome) {
    *resp->mutable_update_ref()->mutable_workflow_execution() = exec;
    resp->mutable_update_ref()->set_update_id(update_id);
    resp->set_stage(stage);
    if (outcome) *resp->mutable_outcome() = *outcome;
    // As Temporal: a link to the accepted event by the request's id, or to
    // the workflow when the update failed (Temporal takes that for a
    // rejection, which writes no event).
    if (outcome && outcome->has_failure()) {
      auto* w = resp->mutable_link()->mutable_workflow();
      w->set_namespace_(ns_name);
      w->set_workflow_id(exec.workflow_id());
      w->set_run_id(exec.run_id());
      w->set_reason("Update rejected");
    } else if (stage >= enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED) {
      *resp->mutable_link() = RequestIdLink(ns_name, exec.workflow_id(), exec.run_id(), request_id,
                                            enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    }
  };
}

void HistoryEngine::UpdateWorkflowExecution(const NamespaceRef& ns, const wsv1::UpdateWorkflowExecutionRequest* req,
                                            wsv1::UpdateWorkflowExecutionResponse* resp, Deadline deadline, Done done) {
  ExecutionKey key;
  {
    std::lock_guard wf_lock(LockFor(ns.id, req->workflow_execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns.id, req->workflow_execution(), &state); !st.ok()) return done(st);
    if (!req->first_execution_run_id().empty() && state->first_execution_run_id() != req->first_execution_run_id())
      return done(errors::NotFound("workflow execution not found for the given first execution run ID"));
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      // A closed run still answers for the updates it knew.
      if (!state->updates().contains(req->request().meta().update_id())) return done(AlreadyCompleted());
    } else if (auto st = AdmitUpdate(state, req->request()); !st.ok()) {
      return done(st);
    }
    key = {state->namespace_id(), state->workflow_id(), state->run_id()};
  }
  const std::string& id = req->request().meta().update_id();
  WaitUpdate(key, id, WantedStage(req->wait_policy()), deadline, FillUpdateResponse(resp, ns.name, req->request()), std::move(done), false);
}

void HistoryEngine::PollWorkflowExecutionUpdate(const NamespaceRef& ns, const wsv1::PollWorkflowExecutionUpdateRequest* req,
                                                wsv1::PollWorkflowExecutionUpdateResponse* resp, Deadline deadline, Done done) {
  const auto& ref = req->update_ref();
  StatePtr state;
  {
    std::lock_guard wf_lock(LockFor(ns.id, ref.workflow_execution().workflow_id()));
    if (auto st = Resolve(ns.id, ref.workflow_execution(), &state); !st.ok()) return done(st);
  }
  ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
  std::string id = ref.update_id();
  WaitUpdate(key, id, WantedStage(req->wait_policy()), deadline,
             [resp, id](const common::WorkflowExecution& exec, enums::UpdateWorkflowExecutionLifecycleStage stage,
                        const temporal::api::update::v1::Outcome* outcome) {
               *resp->mutable_update_ref()->mutable_workflow_execution() = exec;
               resp->mutable_update_ref()->set_update_id(id);
               resp->set_stage(stage);
               if (outcome) *resp->mutable_outcome() = *outcome;
             },
             std::move(done), false);
}

void HistoryEngine::ExecuteMultiOperation(const NamespaceRef& ns, const wsv1::ExecuteMultiOperationRequest* req,
                                          wsv1::ExecuteMultiOperationResponse* resp, Deadline deadline, Done done) {
  // The frontend checked the shape: a start, then an update of that workflow.
  const auto& start = req->operations(0).start_workflow();
  const auto& update = req->operations(1).update_workflow();
  auto fail = [&](int index, const grpc::Status& st) {
    done(errors::MultiOperationFailed(st, index));
  };
  auto* start_resp = resp->add_responses()->mutable_start_workflow();
  auto* update_resp = resp->add_responses()->mutable_update_workflow();
  ExecutionKey key;
  const std::string& id = update.request().meta().update_id();
  {
    std::lock_guard wf_lock(LockFor(ns.id, start.workflow_id()));
    // An update id the current run already knows is that update, whatever
    // the id policies say (as on Temporal): the caller attaches to it. A
    // closed run only answers for the updates it completed; otherwise the
    // id policies decide on a new run.
    bool attached = false;
    if (auto current = Current(ns.id, start.workflow_id())) {
      key = {ns.id, start.workflow_id(), current->run_id};
      auto state = Load(key);
      const records::UpdateInfo* known = nullptr;
      if (state) {
        if (auto it = state->updates().find(id); it != state->updates().end()) known = &it->second;
      }
      if (known && (state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING || CompletedByWorker(*known))) {
        start_resp->set_run_id(current->run_id);
        start_resp->set_started(false);
        start_resp->set_status(state->status());
        attached = true;
      }
    }
    if (!attached) {
      if (auto st = StartLocked(ns, start, nullptr, start_resp); !st.ok()) return fail(0, st);
      key = {ns.id, start.workflow_id(), start_resp->run_id()};
      auto state = Load(key);
      if (!state) return fail(1, errors::Internal("started run is missing"));
      if (auto st = AdmitUpdate(state, update.request()); !st.ok()) return fail(1, st);
    }
  }
  WaitUpdate(key, id, WantedStage(update.wait_policy()), deadline, FillUpdateResponse(update_resp, ns.name, update.request()), std::move(done),
             false);
}

}  // namespace kairos::history
