#include <algorithm>
#include "kairos/frontend/request_validation.h"

#include <cctype>
#include <map>

#include <google/protobuf/util/message_differencer.h>

#include "kairos/cron.h"
#include "kairos/errors.h"
#include "kairos/ids.h"
#include "kairos/time_util.h"

namespace kairos::frontend {
namespace {

namespace common = temporal::api::common::v1;
namespace enums = temporal::api::enums::v1;
namespace tqv1 = temporal::api::taskqueue::v1;

using grpc::Status;

#define KAIROS_CHECK(expr)                    \
  do {                                        \
    if (Status st_ = (expr); !st_.ok()) return st_; \
  } while (0)

Status Invalid(const std::string& message) { return errors::InvalidArgument(message); }

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

Status ValidateExecution(bool present, const common::WorkflowExecution& e) {
  if (!present) return Invalid("Execution is not set on request.");
  if (e.workflow_id().empty()) return Invalid("WorkflowId is not set on request.");
  if (!e.run_id().empty() && !IsValidUuid(e.run_id())) return Invalid("Invalid RunId.");
  return Status::OK;
}

Status ValidateWorkflowId(const std::string& id) {
  if (id.empty()) return Invalid("WorkflowId is not set on request.");
  if (id.size() > kMaxIdLength)
    return Invalid("WorkflowId exceeds maximum allowed length (" + std::to_string(id.size()) + "/" +
                   std::to_string(kMaxIdLength) + ")");
  return Status::OK;
}

Status ValidateIdentity(const std::string& identity) {
  if (identity.size() > kMaxIdLength) return Invalid("Identity length exceeds limit.");
  return Status::OK;
}

Status ValidateRequestId(const std::string& id) {
  if (id.size() > kMaxIdLength) return Invalid("RequestId length exceeds limit.");
  return Status::OK;
}

// Temporal's task queue rules (messages without a trailing period, as there).
Status ValidateTaskQueue(bool present, const tqv1::TaskQueue& tq, bool allow_reserved = false) {
  if (!present) return Invalid("taskQueue is not set");
  if (tq.name().empty()) return Invalid("missing task queue name");
  if (tq.name().size() > kMaxIdLength) return Invalid("taskQueue length exceeds limit");
  if (!allow_reserved && tq.name().starts_with("/_sys/"))
    return Invalid("task queue name cannot start with reserved prefix /_sys/");
  if (tq.kind() == enums::TASK_QUEUE_KIND_STICKY && tq.normal_name().size() > kMaxIdLength)
    return Invalid("taskQueue length exceeds limit");
  return Status::OK;
}

// Empty is fine (the field is optional); negative or mixed signs are not.
const char* DurationProblem(const google::protobuf::Duration& d) {
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0))
    return "duration has seconds and nanos with different signs";
  if (d.seconds() < 0 || d.nanos() < 0) return "negative duration";
  return nullptr;
}

Status ValidateDuration(const google::protobuf::Duration& d, const std::string& what) {
  if (const char* problem = DurationProblem(d))
    return Invalid("An invalid " + what + " is set on request. cause: " + problem);
  return Status::OK;
}

Status ValidateRetryPolicy(bool present, const common::RetryPolicy& p) {
  if (!present || p.maximum_attempts() == 1) return Status::OK;
  if (const char* problem = DurationProblem(p.initial_interval()))
    return Invalid(std::string("invalid InitialInterval set on retry policy: ") + problem);
  if (p.backoff_coefficient() != 0 && p.backoff_coefficient() < 1)
    return Invalid("BackoffCoefficient cannot be less than 1 on retry policy.");
  if (const char* problem = DurationProblem(p.maximum_interval()))
    return Invalid(std::string("invalid MaximumInterval set on retry policy: ") + problem);
  int64_t initial_ms = DurationToMs(p.initial_interval());
  if (initial_ms == 0) initial_ms = 1000;
  int64_t max_ms = DurationToMs(p.maximum_interval());
  if (max_ms > 0 && max_ms < initial_ms)
    return Invalid("MaximumInterval cannot be less than InitialInterval on retry policy.");
  if (p.maximum_attempts() < 0) return Invalid("MaximumAttempts cannot be negative on retry policy.");
  return Status::OK;
}

Status ValidateWorkflowType(bool present, const common::WorkflowType& t) {
  if (!present || t.name().empty()) return Invalid("WorkflowType is not set on request.");
  if (t.name().size() > kMaxIdLength) return Invalid("WorkflowType length exceeds limit.");
  return Status::OK;
}

Status ValidateTimeouts(const google::protobuf::Duration& execution, const google::protobuf::Duration& run,
                        const google::protobuf::Duration& task) {
  KAIROS_CHECK(ValidateDuration(execution, "WorkflowExecutionTimeoutSeconds"));
  KAIROS_CHECK(ValidateDuration(run, "WorkflowRunTimeoutSeconds"));
  return ValidateDuration(task, "WorkflowTaskTimeoutSeconds");
}

Status ValidateStartDelay(const std::string& cron, bool has_delay, const google::protobuf::Duration& delay) {
  if (auto problem = cron::Validate(cron, NowNanos())) return Invalid(*problem);
  if (!cron.empty() && has_delay) return Invalid("CronSchedule and WorkflowStartDelay may not be used together.");
  return ValidateDuration(delay, "WorkflowStartDelaySeconds");
}

Status ValidateIdPolicies(enums::WorkflowIdReusePolicy reuse, enums::WorkflowIdConflictPolicy conflict) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  constexpr auto kTerminateIfRunning = enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING;
#pragma GCC diagnostic pop
  if (conflict != enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED && reuse == kTerminateIfRunning)
    return Invalid(
        "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a "
        "WorkflowIDConflictPolicy");
  if (conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING &&
      reuse == enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
    return Invalid(
        "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be used together with "
        "WorkflowIdConflictPolicy WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING");
  return Status::OK;
}

Status ValidatePriority(bool present, const common::Priority& p) {
  if (!present) return Status::OK;
  if (p.priority_key() < 0) return Invalid("priority key can't be negative");
  if (p.fairness_key().size() > 64) return Invalid("fairness key length exceeds limit");
  if (p.fairness_weight() < 0) return Invalid("must be greater than zero");
  return Status::OK;
}

Status ValidateUpdateRequest(const temporal::api::update::v1::Request& r) {
  if (!r.has_meta()) return Invalid("Update meta is not set on request.");
  if (r.meta().update_id().size() > kMaxIdLength) return Invalid("UpdateId length exceeds limit.");
  if (!r.has_input()) return Invalid("Update input is not set on request.");
  if (r.input().name().empty()) return Invalid("Update name is not set on request.");
  return Status::OK;
}

Status ValidateActivityById(const std::string& workflow_id, const std::string& activity_id) {
  if (activity_id.empty()) return Invalid("ActivityId is not set on request.");
  if (workflow_id.empty()) return Invalid("WorkflowId is not set on request.");
  return Status::OK;
}

// Temporal resolves the pre-1.31 "terminate if running" reuse policy into
// the conflict policy it stands for, and fills in both defaults.
template <class Request>
void NormalizeIdPolicies(Request* req, enums::WorkflowIdConflictPolicy default_conflict) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  constexpr auto kTerminateIfRunning = enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING;
#pragma GCC diagnostic pop
  if (req->workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED) {
    if (req->workflow_id_reuse_policy() == kTerminateIfRunning) {
      req->set_workflow_id_conflict_policy(enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING);
      req->set_workflow_id_reuse_policy(enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE);
    } else {
      req->set_workflow_id_conflict_policy(default_conflict);
    }
  }
  if (req->workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED)
    req->set_workflow_id_reuse_policy(enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE);
}

}  // namespace

bool IsValidUuid(std::string_view s) {
  switch (s.size()) {
    case 36:
      return IsCanonicalUuid(s);
    case 32:
      for (char c : s)
        if (!IsHex(c)) return false;
      return true;
    case 38:
      return s.front() == '{' && s.back() == '}' && IsCanonicalUuid(s.substr(1, 36));
    case 45:
      return EqualsIgnoreCase(s.substr(0, 9), "urn:uuid:") && IsCanonicalUuid(s.substr(9));
    default:
      return false;
  }
}

Status ValidateNamespaceField(const std::string& name) {
  if (name.size() > kMaxIdLength) return Invalid("Namespace length exceeds limit.");
  if (name.empty()) return Invalid("Namespace is empty.");
  return Status::OK;
}

Status Validate(const wsv1::StartWorkflowExecutionRequest& r) {
  KAIROS_CHECK(ValidateWorkflowId(r.workflow_id()));
  KAIROS_CHECK(ValidateRetryPolicy(r.has_retry_policy(), r.retry_policy()));
  KAIROS_CHECK(ValidateStartDelay(r.cron_schedule(), r.has_workflow_start_delay(), r.workflow_start_delay()));
  KAIROS_CHECK(ValidateWorkflowType(r.has_workflow_type(), r.workflow_type()));
  KAIROS_CHECK(ValidateTaskQueue(r.has_task_queue(), r.task_queue()));
  KAIROS_CHECK(ValidateTimeouts(r.workflow_execution_timeout(), r.workflow_run_timeout(), r.workflow_task_timeout()));
  KAIROS_CHECK(ValidateRequestId(r.request_id()));
  KAIROS_CHECK(ValidateIdPolicies(r.workflow_id_reuse_policy(), r.workflow_id_conflict_policy()));
  if (r.has_on_conflict_options() && r.on_conflict_options().attach_completion_callbacks() &&
      !r.on_conflict_options().attach_request_id())
    return Invalid("attaching request ID is required for attaching completion callbacks");
  return ValidatePriority(r.has_priority(), r.priority());
}

Status Validate(const wsv1::SignalWithStartWorkflowExecutionRequest& r) {
  KAIROS_CHECK(ValidateWorkflowId(r.workflow_id()));
  if (r.signal_name().empty()) return Invalid("SignalName is not set on request.");
  if (r.signal_name().size() > kMaxIdLength) return Invalid("SignalName length exceeds limit.");
  KAIROS_CHECK(ValidateWorkflowType(r.has_workflow_type(), r.workflow_type()));
  KAIROS_CHECK(ValidateTaskQueue(r.has_task_queue(), r.task_queue()));
  KAIROS_CHECK(ValidateRequestId(r.request_id()));
  KAIROS_CHECK(ValidateTimeouts(r.workflow_execution_timeout(), r.workflow_run_timeout(), r.workflow_task_timeout()));
  KAIROS_CHECK(ValidateRetryPolicy(r.has_retry_policy(), r.retry_policy()));
  KAIROS_CHECK(ValidateStartDelay(r.cron_schedule(), r.has_workflow_start_delay(), r.workflow_start_delay()));
  KAIROS_CHECK(ValidateIdPolicies(r.workflow_id_reuse_policy(), r.workflow_id_conflict_policy()));
  if (r.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL)
    return Invalid("Invalid WorkflowIDConflictPolicy: WORKFLOW_ID_CONFLICT_POLICY_FAIL is not supported for this operation.");
  return ValidatePriority(r.has_priority(), r.priority());
}

Status Validate(const wsv1::SignalWorkflowExecutionRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_workflow_execution(), r.workflow_execution()));
  if (r.signal_name().empty()) return Invalid("SignalName is not set on request.");
  if (r.signal_name().size() > kMaxIdLength) return Invalid("SignalName length exceeds limit.");
  return ValidateRequestId(r.request_id());
}

Status Validate(const wsv1::RequestCancelWorkflowExecutionRequest& r) {
  return ValidateExecution(r.has_workflow_execution(), r.workflow_execution());
}

Status Validate(const wsv1::TerminateWorkflowExecutionRequest& r) {
  return ValidateExecution(r.has_workflow_execution(), r.workflow_execution());
}

Status Validate(const wsv1::ResetWorkflowExecutionRequest& r) {
  // Required here (a start or a signal gets one made up): Temporal's reset
  // has no use without it.
  if (r.request_id().empty()) return Invalid("RequestId is not set on request.");
  KAIROS_CHECK(ValidateRequestId(r.request_id()));
  return ValidateExecution(r.has_workflow_execution(), r.workflow_execution());
}

Status Validate(const wsv1::DeleteWorkflowExecutionRequest& r) {
  return ValidateExecution(r.has_workflow_execution(), r.workflow_execution());
}

Status Validate(const wsv1::DescribeWorkflowExecutionRequest& r) {
  return ValidateExecution(r.has_execution(), r.execution());
}

Status Validate(const wsv1::GetWorkflowExecutionHistoryRequest& r) {
  return ValidateExecution(r.has_execution(), r.execution());
}

Status Validate(const wsv1::GetWorkflowExecutionHistoryReverseRequest& r) {
  return ValidateExecution(r.has_execution(), r.execution());
}

Status Validate(const wsv1::ResetStickyTaskQueueRequest& r) { return ValidateExecution(r.has_execution(), r.execution()); }

Status Validate(const wsv1::PauseActivityRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_execution(), r.execution()));
  if (r.id().empty() && r.type().empty()) return Invalid("Either Activity.Id or Activity.Type should be set on request.");
  return Status::OK;
}

Status Validate(const wsv1::UnpauseActivityRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_execution(), r.execution()));
  if (r.id().empty() && r.type().empty() && !r.unpause_all()) return Invalid("Either Activity.Id or Activity.Type should be set on request.");
  return Status::OK;
}

Status Validate(const wsv1::ResetActivityRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_execution(), r.execution()));
  if (r.activity_case() == wsv1::ResetActivityRequest::ACTIVITY_NOT_SET)
    return Invalid("Either Activity.Id or Activity.Type should be set on request.");
  return Status::OK;
}

Status Validate(const wsv1::UpdateActivityOptionsRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_execution(), r.execution()));
  if (r.activity_case() == wsv1::UpdateActivityOptionsRequest::ACTIVITY_NOT_SET)
    return Invalid("Either Activity.Id or Activity.Type should be set on request.");
  // Temporal checks the merged policy in history; the fields a mask names
  // come from this one, so its problems are the merged policy's.
  const auto& paths = r.update_mask().paths();
  bool retry_named = std::any_of(paths.begin(), paths.end(), [](const std::string& p) {
    return p.rfind("retry_policy.", 0) == 0 || p.rfind("retryPolicy.", 0) == 0;
  });
  if (retry_named) KAIROS_CHECK(ValidateRetryPolicy(true, r.activity_options().retry_policy()));
  return Status::OK;
}

Status Validate(const wsv1::QueryWorkflowRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_execution(), r.execution()));
  if (!r.has_query()) return Invalid("WorkflowQuery is not set on request.");
  if (r.query().query_type().empty()) return Invalid("QueryType is not set on request.");
  return Status::OK;
}

Status Validate(const wsv1::UpdateWorkflowExecutionRequest& r) {
  KAIROS_CHECK(ValidateExecution(r.has_workflow_execution(), r.workflow_execution()));
  KAIROS_CHECK(ValidateUpdateRequest(r.request()));
  if (r.wait_policy().lifecycle_stage() == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED)
    return errors::PermissionDenied(
        "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.");
  return Status::OK;
}

Status Validate(const wsv1::PollWorkflowExecutionUpdateRequest& r) {
  if (!r.has_update_ref()) return Invalid("UpdateRef is not set on request.");
  const auto& exec = r.update_ref().workflow_execution();
  if (exec.workflow_id().empty()) return Invalid("Can't load workflow execution.  WorkflowId not set.");
  if (!exec.run_id().empty() && !IsValidUuid(exec.run_id())) return Invalid("RunId is not valid UUID.");
  return Status::OK;
}

Status Validate(const wsv1::ExecuteMultiOperationRequest& r) {
  if (r.operations_size() != 2 || !r.operations(0).has_start_workflow() || !r.operations(1).has_update_workflow())
    return Invalid("Operations have to be exactly [Start, Update].");
  const auto& start = r.operations(0).start_workflow();
  const auto& update = r.operations(1).update_workflow();
  auto check_start = [&]() -> Status {
    if (!start.namespace_().empty() && start.namespace_() != r.namespace_())
      return Invalid("Operation namespace did not match request's namespace.");
    KAIROS_CHECK(Validate(start));
    if (!start.cron_schedule().empty()) return Invalid("CronSchedule is not allowed.");
    if (start.request_eager_execution()) return Invalid("RequestEagerExecution is not supported.");
    if (DurationToMs(start.workflow_start_delay()) > 0) return Invalid("WorkflowStartDelay is not supported.");
    return Status::OK;
  };
  auto check_update = [&]() -> Status {
    if (!update.namespace_().empty() && update.namespace_() != r.namespace_())
      return Invalid("Operation namespace did not match request's namespace.");
    KAIROS_CHECK(Validate(update));
    if (!update.first_execution_run_id().empty()) return Invalid("FirstExecutionRunId is not allowed.");
    if (!update.workflow_execution().run_id().empty()) return Invalid("RunId is not allowed.");
    if (update.workflow_execution().workflow_id() != start.workflow_id())
      return Invalid("WorkflowId is not consistent with previous operation(s).");
    return Status::OK;
  };
  if (Status st = check_start(); !st.ok()) return errors::MultiOperationFailed(st, 0);
  if (Status st = check_update(); !st.ok()) return errors::MultiOperationFailed(st, 1);
  return Status::OK;
}

Status Validate(const wsv1::PollWorkflowTaskQueueRequest& r) {
  KAIROS_CHECK(ValidateIdentity(r.identity()));
  return ValidateTaskQueue(r.has_task_queue(), r.task_queue());
}

Status Validate(const wsv1::PollActivityTaskQueueRequest& r) {
  KAIROS_CHECK(ValidateTaskQueue(r.has_task_queue(), r.task_queue()));
  return ValidateIdentity(r.identity());
}

Status Validate(const wsv1::RespondWorkflowTaskCompletedRequest& r) { return ValidateIdentity(r.identity()); }
Status Validate(const wsv1::RespondWorkflowTaskFailedRequest& r) { return ValidateIdentity(r.identity()); }
Status Validate(const wsv1::RespondActivityTaskCompletedRequest& r) { return ValidateIdentity(r.identity()); }
Status Validate(const wsv1::RespondActivityTaskCanceledRequest& r) { return ValidateIdentity(r.identity()); }

Status Validate(const wsv1::RespondActivityTaskFailedRequest& r) {
  if (r.has_failure() && !r.failure().has_application_failure_info())
    return Invalid("Failure must have ApplicationFailureInfo.");
  return ValidateIdentity(r.identity());
}

Status Validate(const wsv1::RecordActivityTaskHeartbeatByIdRequest& r) {
  return ValidateActivityById(r.workflow_id(), r.activity_id());
}

Status Validate(const wsv1::RespondActivityTaskCompletedByIdRequest& r) {
  KAIROS_CHECK(ValidateActivityById(r.workflow_id(), r.activity_id()));
  return ValidateIdentity(r.identity());
}

Status Validate(const wsv1::RespondActivityTaskFailedByIdRequest& r) {
  KAIROS_CHECK(ValidateActivityById(r.workflow_id(), r.activity_id()));
  return ValidateIdentity(r.identity());
}

Status Validate(const wsv1::RespondActivityTaskCanceledByIdRequest& r) {
  KAIROS_CHECK(ValidateActivityById(r.workflow_id(), r.activity_id()));
  return ValidateIdentity(r.identity());
}

Status Validate(const wsv1::DescribeTaskQueueRequest& r) {
  // The legacy mode accepts partition names, reserved prefix included.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  bool legacy = r.api_mode() == enums::DESCRIBE_TASK_QUEUE_MODE_UNSPECIFIED;
#pragma GCC diagnostic pop
  return ValidateTaskQueue(r.has_task_queue(), r.task_queue(), legacy);
}

Status Validate(const wsv1::StartBatchOperationRequest& r) {
  using Req = wsv1::StartBatchOperationRequest;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  int targets = !r.visibility_query().empty() + (r.executions_size() > 0) + (r.target_executions_size() > 0);
#pragma GCC diagnostic pop
  if (r.operation_case() == Req::OPERATION_NOT_SET || r.reason().empty() || targets == 0)
    return errors::InvalidArgument(
        "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR "
        "TargetExecutions)");
  if (r.job_id().empty()) return errors::InvalidArgument("JobId is not set on request.");
  if (targets > 1)
    return errors::InvalidArgument("visibility query, executions, and target executions are mutually exclusive");
  for (int i = 0; i < r.target_executions_size(); ++i) {
    auto type = r.target_executions(i).type();
    if (type == enums::EXECUTION_TYPE_WORKFLOW) continue;
    static const std::map<int, std::string> kOperations = {
        {Req::kTerminationOperation, "TerminationOperation"}, {Req::kSignalOperation, "SignalOperation"},
        {Req::kCancellationOperation, "CancellationOperation"}, {Req::kDeletionOperation, "DeletionOperation"},
        {Req::kResetOperation, "ResetOperation"}};
    auto op = kOperations.find(r.operation_case());
    if (op == kOperations.end()) break;
    return errors::InvalidArgument("target_executions[" + std::to_string(i) + "] has type " +
                                   (type == enums::EXECUTION_TYPE_ACTIVITY ? "Activity" : "Unspecified") +
                                   ", but operation *workflowservice.StartBatchOperationRequest_" + op->second +
                                   " requires Workflow");
  }
  if (r.operation_case() == Req::kSignalOperation && r.signal_operation().signal().empty())
    return errors::InvalidArgument("must provide signal name");
  return Status::OK;
}

Status Validate(const wsv1::DescribeBatchOperationRequest& r) {
  if (r.job_id().empty()) return errors::InvalidArgument("JobId is not set on request.");
  return Status::OK;
}

Status Validate(const wsv1::StopBatchOperationRequest& r) {
  if (r.job_id().empty()) return errors::InvalidArgument("JobId is not set on request.");
  if (r.reason().empty()) return errors::InvalidArgument("Reason is not set on request.");
  return Status::OK;
}

namespace {

// As Temporal's frontend: a link the request carries that a Nexus
// completion callback carries too (SDKs send both, for older servers) is
// dropped from the request, so that the callback alone keeps it.
void DropLinksOfNexusCallbacks(google::protobuf::RepeatedPtrField<common::Link>* links,
                               const google::protobuf::RepeatedPtrField<common::Callback>& callbacks) {
  if (links->empty()) return;
  auto in_a_callback = [&](const common::Link& link) {
    for (const auto& cb : callbacks) {
      if (!cb.has_nexus()) continue;
      for (const auto& l : cb.links())
        if (google::protobuf::util::MessageDifferencer::Equals(link, l)) return true;
    }
    return false;
  };
  links->erase(std::remove_if(links->begin(), links->end(), in_a_callback), links->end());
}

}  // namespace

void Normalize(wsv1::StartWorkflowExecutionRequest* r) {
  NormalizeIdPolicies(r, enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL);
  if (r->request_id().empty()) r->set_request_id(NewUuid());
  DropLinksOfNexusCallbacks(r->mutable_links(), r->completion_callbacks());
}

void Normalize(wsv1::SignalWithStartWorkflowExecutionRequest* r) {
  NormalizeIdPolicies(r, enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING);
  if (r->request_id().empty()) r->set_request_id(NewUuid());
}

void Normalize(wsv1::UpdateWorkflowExecutionRequest* r) {
  auto* meta = r->mutable_request()->mutable_meta();
  if (meta->update_id().empty()) meta->set_update_id(NewUuid());
  if (r->wait_policy().lifecycle_stage() == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED)
    r->mutable_wait_policy()->set_lifecycle_stage(enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED);
  DropLinksOfNexusCallbacks(r->mutable_request()->mutable_links(), r->request().completion_callbacks());
}

void Normalize(wsv1::ExecuteMultiOperationRequest* r) {
  for (auto& op : *r->mutable_operations()) {
    if (op.has_start_workflow()) Normalize(op.mutable_start_workflow());
    if (op.has_update_workflow()) Normalize(op.mutable_update_workflow());
  }
}

history::SystemNexusAdmission SystemNexusAdmission(const visibility::SearchAttributeValidator* search_attributes) {
  return [search_attributes](const history::NamespaceRef& ns, wsv1::SignalWithStartWorkflowExecutionRequest* req) {
    Normalize(req);
    if (auto st = Validate(*req); !st.ok()) return st;
    return search_attributes->ValidateAll(ns.id, ns.name, req->search_attributes());
  };
}

}  // namespace kairos::frontend
