// A run's worker versioning: what a versioned workflow task records, where
// its tasks are pinned, overrides and inherited versions, and the search
// attributes that follow.
#include <catch2/catch.hpp>

#include "kairos/history/run_search_attributes.h"
#include "kairos/history/versioning.h"

using namespace kairos::history;
namespace enums = temporal::api::enums::v1;
namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

wsv1::RespondWorkflowTaskCompletedRequest Completed(const std::string& build, enums::VersioningBehavior behavior) {
  wsv1::RespondWorkflowTaskCompletedRequest req;
  auto* o = req.mutable_deployment_options();
  o->set_deployment_name("orders");
  o->set_build_id(build);
  o->set_worker_versioning_mode(enums::WORKER_VERSIONING_MODE_VERSIONED);
  req.set_versioning_behavior(behavior);
  return req;
}

std::string Attribute(const kairos::records::ExecutionState& s, const std::string& name) {
  auto sa = SearchAttributesOf(s);
  auto it = sa.indexed_fields().find(name);
  return it == sa.indexed_fields().end() ? "" : it->second.data();
}

}  // namespace

TEST_CASE("run versioning: pinned and auto-upgrade tasks, recorded on the event and searchable", "[history]") {
  kairos::records::ExecutionState s;
  CHECK(PinnedVersionOf(s).empty());
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;

  // An unversioned worker records nothing.
  auto unversioned = Completed("b0", enums::VERSIONING_BEHAVIOR_UNSPECIFIED);
  unversioned.mutable_deployment_options()->set_worker_versioning_mode(enums::WORKER_VERSIONING_MODE_UNVERSIONED);
  CHECK_FALSE(RecordVersionedTask(&s, unversioned, &event));
  CHECK_FALSE(event.has_deployment_version());

  CHECK(RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_PINNED), &event));
  CHECK(event.deployment_version().build_id() == "v1");
  CHECK(event.versioning_behavior() == enums::VERSIONING_BEHAVIOR_PINNED);
  CHECK(PinnedVersionOf(s) == "orders:v1");
  CHECK(Attribute(s, "TemporalWorkerDeploymentVersion") == "\"orders:v1\"");
  CHECK(Attribute(s, "TemporalWorkerDeployment") == "\"orders\"");
  CHECK(Attribute(s, "TemporalWorkflowVersioningBehavior") == "\"Pinned\"");
  // The same again changes no attribute.
  CHECK_FALSE(RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_PINNED), &event));

  CHECK(RecordVersionedTask(&s, Completed("v2", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event));
  CHECK(PinnedVersionOf(s).empty());
  CHECK(Attribute(s, "TemporalWorkflowVersioningBehavior") == "\"AutoUpgrade\"");
}

TEST_CASE("run versioning: an override pins until removed; an inherited version pins", "[history]") {
  kairos::records::ExecutionState s;
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;
  RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event);
  temporal::api::workflow::v1::VersioningOverride o;
  o.mutable_pinned()->mutable_version()->set_deployment_name("orders");
  o.mutable_pinned()->mutable_version()->set_build_id("v2");
  CHECK(SetVersioningOverride(&s, o));
  CHECK(PinnedVersionOf(s) == "orders:v2");
  CHECK(Attribute(s, "TemporalWorkflowVersioningBehavior") == "\"Pinned\"");
  CHECK(SetVersioningOverride(&s, {}));
  CHECK(PinnedVersionOf(s).empty());
  CHECK(Attribute(s, "TemporalWorkerDeploymentVersion") == "\"orders:v1\"");

  kairos::records::ExecutionState child;
  temporal::api::deployment::v1::WorkerDeploymentVersion v;
  v.set_deployment_name("orders");
  v.set_build_id("v1");
  CHECK(InheritPinnedVersion(&child, v));
  CHECK(PinnedVersionOf(child) == "orders:v1");
  CHECK(PinnedDeploymentVersionOf(child).build_id() == "v1");
}
