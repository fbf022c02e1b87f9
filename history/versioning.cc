#include "kairos/history/versioning.h"

#include "kairos/history/run_search_attributes.h"
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

// Rewrites the three attributes from the effective versioning; returns
// whether any changed.
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
  depv1::WorkerDeploymentVersion version;
  version.set_deployment_name(options.deployment_name());
  version.set_build_id(options.build_id());
  event->set_versioning_behavior(req.versioning_behavior());
  *event->mutable_deployment_version() = version;
  auto* info = s->mutable_versioning_info();
  info->set_behavior(req.versioning_behavior());
  *info->mutable_deployment_version() = version;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  info->set_version(options.deployment_name() + "." + options.build_id());
#pragma GCC diagnostic pop
  return RefreshSearchAttributes(s);
}

bool SetVersioningOverride(records::ExecutionState* s, const VersioningOverride& o) {
  auto* info = s->mutable_versioning_info();
  if (o.ByteSizeLong() == 0) info->clear_versioning_override(); else *info->mutable_versioning_override() = o;
  return RefreshSearchAttributes(s);
}

}  // namespace kairos::history
