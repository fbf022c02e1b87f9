// Worker versioning of a run (see deployments/): what the last versioned
// workflow task recorded (behavior and deployment version), an override set
// at start or by UpdateWorkflowExecutionOptions, and what follows from them:
// the version its tasks are pinned to and its search attributes
// (TemporalWorkerDeploymentVersion, TemporalWorkerDeployment,
// TemporalWorkflowVersioningBehavior).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "kairos/records.pb.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

class MutableState;

// Where an unpinned workflow task goes now: the version ("" unversioned)
// and the routing revision of the task queue's deployment that decided it
// (0: the queue has no deployment).
struct RoutingTarget {
  temporal::api::deployment::v1::WorkerDeploymentVersion version;
  int64_t revision = 0;
};

// What history asks worker deployments (deployments/). Unset members: no
// deployments (nothing is inherited across task queues, no target changes).
struct DeploymentLookup {
  // Whether workers of `version` ("deployment:build") poll `task_queue` for
  // workflow tasks (Temporal's "is the task queue in the version").
  std::function<bool(const std::string& namespace_id, const std::string& task_queue, const std::string& version)>
      workflow_queue_in_version;
  std::function<RoutingTarget(const std::string& namespace_id, const std::string& task_queue,
                              const std::string& workflow_id)>
      routing_target;
  // Whether a query to a run pinned to `version` on `task_queue` can never
  // be answered: the version is drained and no worker polls the queue
  // (Temporal's blackholed query, refused with FAILED_PRECONDITION).
  std::function<bool(const std::string& namespace_id, const std::string& task_queue,
                     const temporal::api::deployment::v1::WorkerDeploymentVersion& version)>
      query_blackholed;
};

// Whether `task_queue` (a run's new one) keeps a version of a run on
// `old_queue`: the same queue, or one the version's workers poll.
bool QueueKeepsVersion(const DeploymentLookup& lookup, const std::string& namespace_id, const std::string& old_queue,
                       const std::string& task_queue, const temporal::api::deployment::v1::WorkerDeploymentVersion& v);

// "deployment:build" of the version the run's tasks must go to; empty when
// they follow the task queue's routing (auto-upgrade, unversioned).
std::string PinnedVersionOf(const records::ExecutionState& state);
// Temporal's deprecated build-id versioning (version sets): the directive a
// task of a run not routed by worker deployments carries
// (matching::IsBuildIdDirective), as Temporal 1.32's history makes it: a
// run whose last worker used versioning stays compatible with its build
// (activities on its own task queue too); its first workflow task and
// activities on other queues are new work (the queue's default build);
// otherwise none (unversioned).
std::string BuildIdDirectiveOf(const records::ExecutionState& state, const records::QueueTask& task);
// The same as a message; empty when not pinned.
temporal::api::deployment::v1::WorkerDeploymentVersion PinnedDeploymentVersionOf(const records::ExecutionState& state);

// A child started on its pinned parent's task queue runs on the parent's
// version until its own worker reports a behavior (Temporal's
// inherited_pinned_version). Returns whether the search attributes changed.
bool InheritPinnedVersion(records::ExecutionState* state, const temporal::api::deployment::v1::WorkerDeploymentVersion& v);

// What a run hands its next run (continue-as-new, retry, cron), by
// Temporal 1.32's rules, written on the next run's started event:
// - continue-as-new of a pinned run without initial_versioning_behavior:
//   the pinned version (inherited_pinned_version) when the new task queue
//   is the same or in the version, and the declined target upgrade;
// - a pinned override, on the same conditions (retries and crons: always);
// - continue-as-new of an auto-upgrade run, or of a pinned one with
//   initial_versioning_behavior: the source version, its routing revision
//   and the behavior (inherited_auto_upgrade_info), when the queue is in it;
// - a retry: the pinned version if the retried run had inherited one, or the
//   auto-upgrade info. Cron runs inherit neither.
void CarryVersioningToNextRun(const records::ExecutionState& prev, const DeploymentLookup& lookup,
                              temporal::api::enums::v1::ContinueAsNewInitiator initiator,
                              temporal::api::enums::v1::ContinueAsNewVersioningBehavior initial_behavior,
                              temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* next);

// The deprecated build-id versioning: a continue-as-new that asks to inherit
// the build (inherit_build_id, what the SDKs send for a compatible intent)
// of a run no deployment routes, whose worker used versioning, hands its
// build to the new run (source_version_stamp): the new run's first task
// stays compatible with it, as Temporal 1.32 does.
void CarryCompatibleBuild(const records::ExecutionState& prev, bool inherit_build_id,
                          temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* next);

// What a child started in the parent's namespace on `task_queue` inherits
// (Temporal 1.32): a pinned parent's version and pinned override when the
// queue is the parent's or in that version; an auto-upgrade parent's
// version and routing revision (inherited_auto_upgrade_info) on the same
// condition. Written on `child_start` (the child's started event).
void CarryVersioningToChild(const records::ExecutionState& parent, const DeploymentLookup& lookup,
                            const std::string& task_queue,
                            temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* child_start);

// Applies what a started event inherits (pinned version, override,
// auto-upgrade info) to the new run. Returns whether its search attributes
// changed.
bool ApplyStartedVersioning(records::ExecutionState* state,
                            const temporal::api::history::v1::WorkflowExecutionStartedEventAttributes& a);

// At a workflow task start: records the routing revision and the version
// transition of an unpinned run moving to `target`, and, for a pinned run,
// whether its target version changed since it was last told (Temporal's
// rules, with the declined upgrade a continue-as-new carried). Returns
// target_worker_deployment_version_changed for the started event.
bool NoteWorkflowTaskTarget(records::ExecutionState* state, const RoutingTarget& target);
// target_worker_deployment_version_changed as it stands (a pinned run that
// was told of a new target).
bool TargetVersionChanged(const records::ExecutionState& state);

// What Temporal 1.32's history does with an activity task of the run that
// matching offers to a worker of `poller_version` ("deployment:build";
// empty: unversioned), `workflow_target` being where the run's next
// workflow task would go.
enum class ActivityDispatch {
  kStart,            // The activity starts.
  kHold,             // The run is in a version transition: not now; the
                     // task is sent again when the transition completes.
  kStartTransition,  // An unpinned run's activity reached the version its
                     // workflow task would go to: the run starts its
                     // transition there (StartVersionTransition) and the
                     // activity waits for it, as kHold.
};
ActivityDispatch CheckActivityDispatch(const records::ExecutionState& state, const std::string& poller_version,
                                       const RoutingTarget& workflow_target);
// Records the transition of an unpinned run to `target` (describe's
// version_transition, the routing revision).
void StartVersionTransition(records::ExecutionState* state, const RoutingTarget& target);

// Whether the run's next workflow task goes to the ramping version: its
// first task, continued as new with USE_RAMPING_VERSION.
bool UsesRampingVersion(const records::ExecutionState& state);

// A completed workflow task of a versioned worker: its behavior and version
// go on the event and into the run's versioning info. Returns whether the
// run's search attributes changed.
bool RecordVersionedTask(records::ExecutionState* state,
                         const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req,
                         temporal::api::history::v1::WorkflowTaskCompletedEventAttributes* event);

// What a WorkflowTaskCompleted event records of a versioned worker
// (nothing for an unversioned one), applied to the run as when the task
// completed: rebuilding a run from its history (reset) gives it the
// versioning of its last completed task, as Temporal's replay does.
bool ApplyCompletedVersioning(records::ExecutionState* state,
                              const temporal::api::history::v1::WorkflowTaskCompletedEventAttributes& event);

// Marks every search attribute the functions above may change
// (TemporalWorkerDeploymentVersion, TemporalWorkerDeployment,
// TemporalWorkflowVersioningBehavior, BuildIds' pinned entry,
// TemporalUsedWorkerDeploymentVersions) for visibility.
void MarkVersioningSearchAttributesChanged(MutableState& ms);

// Sets (or, with an empty override, removes) the run's versioning override.
// Returns whether the run's search attributes changed.
bool SetVersioningOverride(records::ExecutionState* state, const temporal::api::workflow::v1::VersioningOverride& o);

}  // namespace kairos::history
