#include "kairos/history/versioning.h"

#include <algorithm>

#include "kairos/history/mutable_state.h"
#include "kairos/history/run_search_attributes.h"
#include "kairos/history/state_rebuild.h"
#include "kairos/matching/matching_service.h"
#include "kairos/visibility/values.h"

namespace kairos::history {
namespace {

namespace enums = temporal::api::enums::v1;
namespace depv1 = temporal::api::deployment::v1;
using temporal::api::workflow::v1::VersioningOverride;

std::string VersionString(const depv1::WorkerDeploymentVersion& v) {
  if (v.deployment_name().empty() && v.build_id().empty()) return "";
  return v.deployment_name() + ":" + v.build_id();
}

// The version an override pins to (empty: it does not pin).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
depv1::WorkerDeploymentVersion OverridePinnedVersion(const VersioningOverride& o) {
  depv1::WorkerDeploymentVersion v;
  if (o.has_pinned()) return o.pinned().version();
  if (o.behavior() != enums::VERSIONING_BEHAVIOR_PINNED) return v;
  if (!o.pinned_version().empty()) {
    const std::string& s = o.pinned_version();
    auto dot = s.find('.');
    v.set_deployment_name(s.substr(0, dot));
    if (dot != std::string::npos) v.set_build_id(s.substr(dot + 1));
    return v;
  }
  v.set_deployment_name(o.deployment().series_name());
  v.set_build_id(o.deployment().build_id());
  return v;
}
bool OverrideAutoUpgrades(const VersioningOverride& o) {
  return o.auto_upgrade() || (!o.has_pinned() && o.behavior() == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE);
}
#pragma GCC diagnostic pop

// The behavior and version in effect: the override's, else the worker's.
void Effective(const records::ExecutionState& s, enums::VersioningBehavior* behavior,
               depv1::WorkerDeploymentVersion* version) {
  const auto& info = s.versioning_info();
  *behavior = info.behavior();
  *version = info.deployment_version();
  if (!info.has_versioning_override()) return;
  if (auto pinned = OverridePinnedVersion(info.versioning_override()); !VersionString(pinned).empty()) {
    *behavior = enums::VERSIONING_BEHAVIOR_PINNED;
    *version = pinned;
  } else if (OverrideAutoUpgrades(info.versioning_override())) {
    *behavior = enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE;
  }
}

// BuildIds as Temporal keeps it: the unversioned (or assigned) sentinel
// first, then "pinned:<deployment>:<build>" while the run is pinned, then
// the builds workers reported.
std::vector<std::string> WithPinnedEntry(const std::vector<std::string>& ids, const std::string& pinned) {
  std::vector<std::string> out;
  for (const auto& id : ids)
    if (id == "unversioned" || id.rfind("assigned:", 0) == 0) out.push_back(id);
  if (!pinned.empty()) out.push_back("pinned:" + pinned);
  for (const auto& id : ids)
    if (id != "unversioned" && id.rfind("assigned:", 0) != 0 && id.rfind("pinned:", 0) != 0) out.push_back(id);
  return out;
}

// Rewrites the versioning attributes from the effective versioning (and
// BuildIds' pinned entry); returns whether any changed.
bool RefreshSearchAttributes(records::ExecutionState* s) {
  enums::VersioningBehavior behavior;
  depv1::WorkerDeploymentVersion effective;
  Effective(*s, &behavior, &effective);
  std::string version = VersionString(effective);
  std::string behavior_name = behavior == enums::VERSIONING_BEHAVIOR_PINNED         ? "Pinned"
                              : behavior == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE ? "AutoUpgrade"
                                                                                    : "";
  std::string deployment = version.substr(0, version.find(':'));
  auto sa = SearchAttributesOf(*s);
  auto& fields = *sa.mutable_indexed_fields();
  bool changed = false;
  auto put = [&](const char* name, const std::string& value) {
    auto it = fields.find(name);
    if (value.empty()) {
      if (it != fields.end()) {
        fields.erase(it);
        changed = true;
      }
      return;
    }
    auto payload = visibility::KeywordPayload(value);
    if (it != fields.end() && it->second.data() == payload.data()) return;
    fields[name] = std::move(payload);
    changed = true;
  };
  put("TemporalWorkerDeploymentVersion", version);
  put("TemporalWorkerDeployment", deployment);
  put("TemporalWorkflowVersioningBehavior", behavior_name);
  auto ids = visibility::StringValues(sa, "BuildIds");
  auto wanted = WithPinnedEntry(ids, behavior == enums::VERSIONING_BEHAVIOR_PINNED ? version : "");
  if (wanted != ids) {
    if (wanted.empty()) fields.erase("BuildIds"); else fields["BuildIds"] = visibility::KeywordListPayload(wanted);
    changed = true;
  }
  if (changed) SetSearchAttributes(s, sa);
  return changed;
}

}  // namespace

depv1::WorkerDeploymentVersion PinnedDeploymentVersionOf(const records::ExecutionState& s) {
  if (!s.has_versioning_info()) return {};
  enums::VersioningBehavior behavior;
  depv1::WorkerDeploymentVersion version;
  Effective(s, &behavior, &version);
  return behavior == enums::VERSIONING_BEHAVIOR_PINNED ? version : depv1::WorkerDeploymentVersion();
}

std::string PinnedVersionOf(const records::ExecutionState& s) {
  if (!s.has_versioning_info()) return "";
  return VersionString(PinnedDeploymentVersionOf(s));
}

std::string BuildIdDirectiveOf(const records::ExecutionState& s, const records::QueueTask& task) {
  if (s.has_versioning_info()) {
    enums::VersioningBehavior behavior;
    depv1::WorkerDeploymentVersion version;
    Effective(s, &behavior, &version);
    if (behavior != enums::VERSIONING_BEHAVIOR_UNSPECIFIED) return "";  // Worker deployments route it.
  }
  const auto& stamp = s.most_recent_worker_version_stamp();
  // New work names its run: assignment rules ramp by a hash of it.
  const std::string assign = std::string(matching::kAssignBuildDirective) + ":" + s.run_id();
  std::string compatible;
  if (stamp.use_versioning() && !stamp.build_id().empty()) compatible = matching::kCompatibleBuildPrefix + stamp.build_id();
  if (task.kind() == records::QueueTask::ACTIVITY) {
    // An activity on the workflow's queue is compatible with the workflow's
    // build; on another queue it is new work there.
    if (task.task_queue() != s.start().task_queue().name()) return assign;
    return compatible;
  }
  if (!compatible.empty()) return compatible;
  return s.last_completed_wft_started_event_id() == 0 ? assign : "";
}

bool QueueKeepsVersion(const DeploymentLookup& lookup, const std::string& namespace_id, const std::string& old_queue,
                       const std::string& task_queue, const depv1::WorkerDeploymentVersion& v) {
  if (task_queue == old_queue) return true;
  return lookup.workflow_queue_in_version && lookup.workflow_queue_in_version(namespace_id, task_queue, VersionString(v));
}

void CarryVersioningToNextRun(const records::ExecutionState& prev, const DeploymentLookup& lookup,
                              enums::ContinueAsNewInitiator initiator, enums::ContinueAsNewVersioningBehavior initial_behavior,
                              temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* next) {
  next->clear_inherited_pinned_version();
  next->clear_versioning_override();
  next->clear_inherited_auto_upgrade_info();
  next->clear_declined_target_version_upgrade();
  if (!prev.has_versioning_info()) return;
  const auto& info = prev.versioning_info();
  enums::VersioningBehavior behavior;
  depv1::WorkerDeploymentVersion version;
  Effective(prev, &behavior, &version);
  bool pinned_override =
      info.has_versioning_override() && !VersionString(OverridePinnedVersion(info.versioning_override())).empty();
  auto inherit_auto_upgrade = [&](enums::ContinueAsNewVersioningBehavior initial) {
    if (VersionString(version).empty() || info.revision_number() == 0) return;
    auto* a = next->mutable_inherited_auto_upgrade_info();
    *a->mutable_source_deployment_version() = version;
    a->set_source_deployment_revision_number(info.revision_number());
    a->set_continue_as_new_initial_versioning_behavior(initial);
  };
  // Retries and crons stay on the run's task queue.
  if (initiator == enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE) {
    if (pinned_override) *next->mutable_versioning_override() = info.versioning_override();
    return;
  }
  if (initiator == enums::CONTINUE_AS_NEW_INITIATOR_RETRY) {
    if (pinned_override) *next->mutable_versioning_override() = info.versioning_override();
    if (behavior == enums::VERSIONING_BEHAVIOR_PINNED && prev.start().has_inherited_pinned_version()) {
      *next->mutable_inherited_pinned_version() = version;
    } else if (behavior == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE) {
      inherit_auto_upgrade(info.continue_as_new_initial_versioning_behavior());
    }
    if (prev.start().has_declined_target_version_upgrade())
      *next->mutable_declined_target_version_upgrade() = prev.start().declined_target_version_upgrade();
    return;
  }
  const std::string& ns = prev.namespace_id();
  const std::string& old_queue = prev.start().task_queue().name();
  const std::string& new_queue = next->task_queue().name();
  bool in_pinned_version = false;
  if (behavior == enums::VERSIONING_BEHAVIOR_PINNED &&
      initial_behavior == enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED &&
      QueueKeepsVersion(lookup, ns, old_queue, new_queue, version)) {
    in_pinned_version = true;
    *next->mutable_inherited_pinned_version() = version;
    // A target it was told of and continued past anyway is declined.
    if (prev.has_last_notified_target_version())
      *next->mutable_declined_target_version_upgrade() = prev.last_notified_target_version();
    else if (prev.start().has_declined_target_version_upgrade())
      *next->mutable_declined_target_version_upgrade() = prev.start().declined_target_version_upgrade();
  }
  if (pinned_override && (new_queue == old_queue || in_pinned_version))
    *next->mutable_versioning_override() = info.versioning_override();
  bool upgrades = behavior == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE ||
                  (behavior == enums::VERSIONING_BEHAVIOR_PINNED &&
                   initial_behavior != enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED);
  if (upgrades && !next->has_inherited_pinned_version() && QueueKeepsVersion(lookup, ns, old_queue, new_queue, version))
    inherit_auto_upgrade(initial_behavior);
}

void CarryVersioningToChild(const records::ExecutionState& parent, const DeploymentLookup& lookup,
                            const std::string& task_queue,
                            temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* child_start) {
  if (!parent.has_versioning_info()) return;
  const auto& info = parent.versioning_info();
  enums::VersioningBehavior behavior;
  depv1::WorkerDeploymentVersion version;
  Effective(parent, &behavior, &version);
  if (VersionString(version).empty()) return;
  if (!QueueKeepsVersion(lookup, parent.namespace_id(), parent.start().task_queue().name(), task_queue, version))
    return;
  if (behavior == enums::VERSIONING_BEHAVIOR_PINNED) {
    *child_start->mutable_inherited_pinned_version() = version;
    if (info.has_versioning_override()) *child_start->mutable_versioning_override() = info.versioning_override();
  } else if (behavior == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE && info.revision_number() != 0) {
    auto* a = child_start->mutable_inherited_auto_upgrade_info();
    *a->mutable_source_deployment_version() = version;
    a->set_source_deployment_revision_number(info.revision_number());
  }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void CarryCompatibleBuild(const records::ExecutionState& prev, bool inherit_build_id,
                          temporal::api::history::v1::WorkflowExecutionStartedEventAttributes* next) {
  next->clear_source_version_stamp();
  if (!inherit_build_id) return;
  enums::VersioningBehavior behavior = enums::VERSIONING_BEHAVIOR_UNSPECIFIED;
  depv1::WorkerDeploymentVersion version;
  if (prev.has_versioning_info()) Effective(prev, &behavior, &version);
  if (behavior != enums::VERSIONING_BEHAVIOR_UNSPECIFIED) return;
  const auto& stamp = prev.most_recent_worker_version_stamp();
  if (stamp.use_versioning() && !stamp.build_id().empty()) *next->mutable_source_version_stamp() = stamp;
}
#pragma GCC diagnostic pop

bool ApplyStartedVersioning(records::ExecutionState* s,
                            const temporal::api::history::v1::WorkflowExecutionStartedEventAttributes& a) {
  bool changed = false;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // A build handed on by the previous run: the new run is of that build.
  if (const auto& stamp = a.source_version_stamp(); stamp.use_versioning() && !stamp.build_id().empty())
    changed |= RecordWorkerBuild(s, stamp, enums::VERSIONING_BEHAVIOR_UNSPECIFIED);
#pragma GCC diagnostic pop
  if (a.has_inherited_pinned_version()) changed |= InheritPinnedVersion(s, a.inherited_pinned_version());
  if (a.has_inherited_auto_upgrade_info()) {
    // Auto-upgrade for the first workflow task; the worker's behavior after.
    const auto& inherited = a.inherited_auto_upgrade_info();
    auto* info = s->mutable_versioning_info();
    info->set_behavior(enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE);
    *info->mutable_deployment_version() = inherited.source_deployment_version();
    info->set_revision_number(inherited.source_deployment_revision_number());
    info->set_continue_as_new_initial_versioning_behavior(inherited.continue_as_new_initial_versioning_behavior());
    changed |= RefreshSearchAttributes(s);
  }
  if (a.has_versioning_override()) changed |= SetVersioningOverride(s, a.versioning_override());
  return changed;
}

bool TargetVersionChanged(const records::ExecutionState& s) {
  return s.has_last_notified_target_version() && !PinnedVersionOf(s).empty();
}

bool NoteWorkflowTaskTarget(records::ExecutionState* s, const RoutingTarget& target) {
  if (target.revision == 0) return TargetVersionChanged(*s);  // The queue has no deployment.
  enums::VersioningBehavior behavior;
  depv1::WorkerDeploymentVersion effective;
  Effective(*s, &behavior, &effective);
  const auto& info = s->versioning_info();
  bool on_target = VersionString(effective) == VersionString(target.version);
  if (behavior != enums::VERSIONING_BEHAVIOR_PINNED) {
    // An unpinned run moving to another version is in transition until a
    // workflow task completes there.
    if (!on_target && !VersionString(target.version).empty()) {
      auto* mutable_info = s->mutable_versioning_info();
      *mutable_info->mutable_version_transition()->mutable_deployment_version() = target.version;
      mutable_info->set_revision_number(target.revision);
    }
    return false;
  }
  if (info.has_versioning_override()) {  // The operator decides the version.
    s->clear_last_notified_target_version();
    return false;
  }
  const auto& declined = s->start().declined_target_version_upgrade();
  int64_t highest_seen = std::max(s->last_notified_target_version().revision_number(), declined.revision_number());
  if (on_target && target.revision >= highest_seen) {
    s->clear_last_notified_target_version();
  } else if (s->start().has_declined_target_version_upgrade() && target.revision <= declined.revision_number()) {
    // Continued as new past this target already.
  } else if (target.revision >= highest_seen) {
    auto* notified = s->mutable_last_notified_target_version();
    *notified->mutable_deployment_version() = target.version;
    notified->set_revision_number(target.revision);
  }
  return TargetVersionChanged(*s);
}

ActivityDispatch CheckActivityDispatch(const records::ExecutionState& s, const std::string& poller_version,
                                       const RoutingTarget& workflow_target) {
  enums::VersioningBehavior behavior = enums::VERSIONING_BEHAVIOR_UNSPECIFIED;
  depv1::WorkerDeploymentVersion effective;
  if (s.has_versioning_info()) Effective(s, &behavior, &effective);
  // Temporal ends a transition when an override pins the run; Kairos keeps
  // the field until a task completes, so a pinned run is never held.
  if (behavior == enums::VERSIONING_BEHAVIOR_PINNED) return ActivityDispatch::kStart;
  if (s.versioning_info().has_version_transition()) return ActivityDispatch::kHold;
  if (poller_version == VersionString(effective)) return ActivityDispatch::kStart;
  // An activity routed independently of its workflow (another queue, or a
  // version the workflow task would not go to) leaves the run alone.
  if (workflow_target.revision == 0 || VersionString(workflow_target.version) != poller_version)
    return ActivityDispatch::kStart;
  return ActivityDispatch::kStartTransition;
}

void StartVersionTransition(records::ExecutionState* s, const RoutingTarget& target) {
  auto* info = s->mutable_versioning_info();
  *info->mutable_version_transition()->mutable_deployment_version() = target.version;
  info->set_revision_number(target.revision);
}

bool UsesRampingVersion(const records::ExecutionState& s) {
  return s.last_completed_wft_started_event_id() == 0 &&
         s.versioning_info().continue_as_new_initial_versioning_behavior() ==
             enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_USE_RAMPING_VERSION;
}

bool InheritPinnedVersion(records::ExecutionState* s, const depv1::WorkerDeploymentVersion& v) {
  auto* info = s->mutable_versioning_info();
  info->set_behavior(enums::VERSIONING_BEHAVIOR_PINNED);
  *info->mutable_deployment_version() = v;
  return RefreshSearchAttributes(s);
}

bool RecordVersionedTask(records::ExecutionState* s,
                         const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req,
                         temporal::api::history::v1::WorkflowTaskCompletedEventAttributes* event) {
  const auto& options = req.deployment_options();
  if (options.worker_versioning_mode() != enums::WORKER_VERSIONING_MODE_VERSIONED) return false;
  event->set_versioning_behavior(req.versioning_behavior());
  event->mutable_deployment_version()->set_deployment_name(options.deployment_name());
  event->mutable_deployment_version()->set_build_id(options.build_id());
  return ApplyCompletedVersioning(s, *event);
}

bool ApplyCompletedVersioning(records::ExecutionState* s,
                              const temporal::api::history::v1::WorkflowTaskCompletedEventAttributes& event) {
  const auto& version = event.deployment_version();
  if (version.build_id().empty() && version.deployment_name().empty()) return false;
  // Every version a task completed on, once each, in order.
  bool used_changed = false;
  auto sa = SearchAttributesOf(*s);
  auto used = visibility::StringValues(sa, "TemporalUsedWorkerDeploymentVersions");
  if (std::find(used.begin(), used.end(), VersionString(version)) == used.end()) {
    used.push_back(VersionString(version));
    (*sa.mutable_indexed_fields())["TemporalUsedWorkerDeploymentVersions"] = visibility::KeywordListPayload(used);
    SetSearchAttributes(s, sa);
    used_changed = true;
  }
  auto* info = s->mutable_versioning_info();
  info->clear_version_transition();  // It arrived.
  info->set_behavior(event.versioning_behavior());
  *info->mutable_deployment_version() = version;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  info->set_version(version.deployment_name() + "." + version.build_id());
#pragma GCC diagnostic pop
  return RefreshSearchAttributes(s) || used_changed;
}

void MarkVersioningSearchAttributesChanged(MutableState& ms) {
  for (const char* name : {"TemporalWorkerDeploymentVersion", "TemporalWorkerDeployment",
                           "TemporalWorkflowVersioningBehavior", "BuildIds", "TemporalUsedWorkerDeploymentVersions"})
    ms.mark_search_attribute_changed(name);
}

bool SetVersioningOverride(records::ExecutionState* s, const VersioningOverride& o) {
  auto* info = s->mutable_versioning_info();
  if (o.ByteSizeLong() == 0) info->clear_versioning_override(); else *info->mutable_versioning_override() = o;
  return RefreshSearchAttributes(s);
}

}  // namespace kairos::history
