// Rebuilding a run's mutable state from a prefix of its history, for reset:
// the new run starts from the base run's events up to the reset point, and
// its state must be what it was then (pending workflow task, activities,
// timers, children, external requests, search attributes, memo).
#pragma once

#include <string>
#include <vector>

#include "kairos/records.pb.h"
#include "temporal/api/history/v1/message.pb.h"

namespace kairos::history {

// Applies `events` (ids 1..n, in order) to `state`, which holds the run's
// identity (namespace, ids, status RUNNING, next_event_id 1). Returns an
// error message when the prefix cannot be a running run (a close event, a
// gap in the ids).
std::string RebuildState(const std::vector<temporal::api::history::v1::HistoryEvent>& events,
                         records::ExecutionState* state);

// Stores a run's started-event attributes in its state. The memo and the
// search attributes go to the state's own fields, which the run updates,
// and not also into `start`: each copy of the state then holds them once.
void KeepStartAttributes(temporal::api::history::v1::WorkflowExecutionStartedEventAttributes a,
                         records::ExecutionState* state);

// Auto-reset points: the first completed workflow task of each worker build
// (binary checksum or build id, both empty counting as one build, as on
// Temporal) is where `workflow reset --type BuildId`
// goes back to; at most the newest 20 are kept, as on Temporal.
void RecordResetPoint(records::ExecutionState* state, const std::string& binary_checksum, const std::string& build_id,
                      int64_t completed_event_id, int64_t now_nanos);

// The build of the worker that completed a workflow task, filed as Temporal
// files it when the task queue has no versioning rules: describe's most
// recent worker version stamp, and the BuildIds search attribute, which
// gathers "unversioned" and "unversioned:<id>" (or "versioned:<id>" for a
// worker that asked for build-id versioning; without the bare "unversioned"
// for a task that reported a deployment versioning behavior), each once.
// Returns whether BuildIds changed. A stamp without a build id changes
// nothing.
bool RecordWorkerBuild(records::ExecutionState* state, const temporal::api::common::v1::WorkerVersionStamp& stamp,
                       temporal::api::enums::v1::VersioningBehavior behavior);

}  // namespace kairos::history
