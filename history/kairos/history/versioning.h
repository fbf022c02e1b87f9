// Worker versioning of a run (see deployments/): what the last versioned
// workflow task recorded (behavior and deployment version), an override set
// at start or by UpdateWorkflowExecutionOptions, and what follows from them:
// the version its tasks are pinned to and its search attributes
// (TemporalWorkerDeploymentVersion, TemporalWorkerDeployment,
// TemporalWorkflowVersioningBehavior).
#pragma once

#include <string>

#include "kairos/records.pb.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

// "deployment:build" of the version the run's tasks must go to; empty when
// they follow the task queue's routing (auto-upgrade, unversioned).
std::string PinnedVersionOf(const records::ExecutionState& state);
// The same as a message; empty when not pinned.
temporal::api::deployment::v1::WorkerDeploymentVersion PinnedDeploymentVersionOf(const records::ExecutionState& state);

// A child started on its pinned parent's task queue runs on the parent's
// version until its own worker reports a behavior (Temporal's
// inherited_pinned_version). Returns whether the search attributes changed.
bool InheritPinnedVersion(records::ExecutionState* state, const temporal::api::deployment::v1::WorkerDeploymentVersion& v);

// A completed workflow task of a versioned worker: its behavior and version
// go on the event and into the run's versioning info. Returns whether the
// run's search attributes changed.
bool RecordVersionedTask(records::ExecutionState* state,
                         const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req,
                         temporal::api::history::v1::WorkflowTaskCompletedEventAttributes* event);

// Sets (or, with an empty override, removes) the run's versioning override.
// Returns whether the run's search attributes changed.
bool SetVersioningOverride(records::ExecutionState* state, const temporal::api::workflow::v1::VersioningOverride& o);

}  // namespace kairos::history
