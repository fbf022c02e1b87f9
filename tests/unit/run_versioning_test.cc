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

namespace {

temporal::api::deployment::v1::WorkerDeploymentVersion Version(const std::string& build) {
  temporal::api::deployment::v1::WorkerDeploymentVersion v;
  v.set_deployment_name("orders");
  v.set_build_id(build);
  return v;
}

// A run on task queue "tq" that completed a task of `build` with `behavior`
// after being routed there at routing revision 3.
kairos::records::ExecutionState RunOn(const std::string& build, enums::VersioningBehavior behavior) {
  kairos::records::ExecutionState s;
  s.set_namespace_id("ns");
  s.mutable_start()->mutable_task_queue()->set_name("tq");
  NoteWorkflowTaskTarget(&s, RoutingTarget{Version(build), 3});
  CHECK(s.versioning_info().version_transition().deployment_version().build_id() == build);
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;
  RecordVersionedTask(&s, Completed(build, behavior), &event);
  CHECK_FALSE(s.versioning_info().has_version_transition());
  return s;
}

// Workers of v1 poll "tq" and "v1-tq".
DeploymentLookup Lookup() {
  DeploymentLookup l;
  l.workflow_queue_in_version = [](const std::string&, const std::string& queue, const std::string& version) {
    return version == "orders:v1" && (queue == "tq" || queue == "v1-tq");
  };
  return l;
}

temporal::api::history::v1::WorkflowExecutionStartedEventAttributes NextOn(const std::string& queue) {
  temporal::api::history::v1::WorkflowExecutionStartedEventAttributes a;
  a.mutable_task_queue()->set_name(queue);
  return a;
}

}  // namespace

TEST_CASE("run versioning: a pinned run learns of a new target once, and continues as new pinned", "[history]") {
  auto s = RunOn("v1", enums::VERSIONING_BEHAVIOR_PINNED);
  CHECK_FALSE(NoteWorkflowTaskTarget(&s, RoutingTarget{Version("v1"), 3}));
  CHECK(NoteWorkflowTaskTarget(&s, RoutingTarget{Version("v2"), 4}));
  CHECK(TargetVersionChanged(s));
  CHECK(NoteWorkflowTaskTarget(&s, RoutingTarget{Version("v2"), 4}));  // Still true on later tasks.

  // Continued as new on its own queue (or one of its version's): stays on
  // v1 and declines v2; on a queue v1 does not poll: inherits nothing.
  for (const char* queue : {"tq", "v1-tq"}) {
    auto next = NextOn(queue);
    CarryVersioningToNextRun(s, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                             enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &next);
    CHECK(next.inherited_pinned_version().build_id() == "v1");
    CHECK(next.declined_target_version_upgrade().deployment_version().build_id() == "v2");
    CHECK(next.declined_target_version_upgrade().revision_number() == 4);
    CHECK_FALSE(next.has_inherited_auto_upgrade_info());

    // The next run is pinned and is not told of the target it declined, only
    // of a newer one.
    kairos::records::ExecutionState n;
    *n.mutable_start() = next;
    CHECK(ApplyStartedVersioning(&n, next));
    CHECK(PinnedVersionOf(n) == "orders:v1");
    CHECK_FALSE(NoteWorkflowTaskTarget(&n, RoutingTarget{Version("v2"), 4}));
    CHECK(NoteWorkflowTaskTarget(&n, RoutingTarget{Version("v3"), 5}));
  }
  auto elsewhere = NextOn("other-tq");
  CarryVersioningToNextRun(s, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &elsewhere);
  CHECK_FALSE(elsewhere.has_inherited_pinned_version());
  CHECK_FALSE(elsewhere.has_declined_target_version_upgrade());

  // Cron runs start afresh.
  auto cron = NextOn("tq");
  CarryVersioningToNextRun(s, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &cron);
  CHECK_FALSE(cron.has_inherited_pinned_version());
}

TEST_CASE("run versioning: continue-as-new with an initial behavior, of auto-upgrade runs, and overrides", "[history]") {
  auto pinned = RunOn("v1", enums::VERSIONING_BEHAVIOR_PINNED);
  auto next = NextOn("tq");
  CarryVersioningToNextRun(pinned, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_USE_RAMPING_VERSION, &next);
  CHECK_FALSE(next.has_inherited_pinned_version());
  CHECK(next.inherited_auto_upgrade_info().source_deployment_version().build_id() == "v1");
  CHECK(next.inherited_auto_upgrade_info().source_deployment_revision_number() == 3);
  kairos::records::ExecutionState n;
  CHECK(ApplyStartedVersioning(&n, next));
  CHECK(PinnedVersionOf(n).empty());
  CHECK(n.versioning_info().behavior() == enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE);
  CHECK(UsesRampingVersion(n));  // Its first task only.
  n.set_last_completed_wft_started_event_id(3);
  CHECK_FALSE(UsesRampingVersion(n));

  auto autoRun = RunOn("v1", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE);
  next = NextOn("tq");
  CarryVersioningToNextRun(autoRun, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &next);
  CHECK(next.inherited_auto_upgrade_info().continue_as_new_initial_versioning_behavior() ==
        enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED);

  // A pinned override goes with the run; an auto-upgrade run is never told
  // of a target (it moves by itself).
  temporal::api::workflow::v1::VersioningOverride o;
  *o.mutable_pinned()->mutable_version() = Version("v1");
  SetVersioningOverride(&autoRun, o);
  CHECK_FALSE(NoteWorkflowTaskTarget(&autoRun, RoutingTarget{Version("v2"), 4}));
  next = NextOn("tq");
  *next.mutable_versioning_override() = temporal::api::workflow::v1::VersioningOverride();  // Stale, from the first start.
  CarryVersioningToNextRun(autoRun, Lookup(), enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &next);
  CHECK(next.versioning_override().pinned().version().build_id() == "v1");
  CHECK(next.inherited_pinned_version().build_id() == "v1");
}

TEST_CASE("run versioning: children inherit on a task queue of the parent's version", "[history]") {
  auto pinned = RunOn("v1", enums::VERSIONING_BEHAVIOR_PINNED);
  for (const char* queue : {"tq", "v1-tq"}) {
    temporal::api::history::v1::WorkflowExecutionStartedEventAttributes child;
    CarryVersioningToChild(pinned, Lookup(), queue, &child);
    CHECK(child.inherited_pinned_version().build_id() == "v1");
  }
  temporal::api::history::v1::WorkflowExecutionStartedEventAttributes child;
  CarryVersioningToChild(pinned, Lookup(), "other-tq", &child);
  CHECK_FALSE(child.has_inherited_pinned_version());

  auto autoRun = RunOn("v1", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE);
  CarryVersioningToChild(autoRun, Lookup(), "v1-tq", &child);
  CHECK(child.inherited_auto_upgrade_info().source_deployment_version().build_id() == "v1");
  CHECK(child.inherited_auto_upgrade_info().continue_as_new_initial_versioning_behavior() ==
        enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED);
}

TEST_CASE("run versioning: BuildIds' pinned entry and the versions a run used, as Temporal writes them", "[history]") {
  kairos::records::ExecutionState s;
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;
  CHECK(RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_PINNED), &event));
  CHECK(Attribute(s, "BuildIds") == "[\"pinned:orders:v1\"]");
  CHECK(Attribute(s, "TemporalUsedWorkerDeploymentVersions") == "[\"orders:v1\"]");
  // Auto-upgrade on v2: no pinned entry; both versions used, once each.
  CHECK(RecordVersionedTask(&s, Completed("v2", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event));
  CHECK(RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event));
  CHECK(Attribute(s, "BuildIds").empty());
  CHECK(Attribute(s, "TemporalUsedWorkerDeploymentVersions") == "[\"orders:v1\",\"orders:v2\"]");
}

TEST_CASE("run versioning: a completed task's event gives a rebuilt run its versioning", "[history]") {
  kairos::records::ExecutionState s;
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes unversioned;
  CHECK_FALSE(ApplyCompletedVersioning(&s, unversioned));
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;
  event.set_versioning_behavior(enums::VERSIONING_BEHAVIOR_PINNED);
  event.mutable_deployment_version()->set_deployment_name("orders");
  event.mutable_deployment_version()->set_build_id("v1");
  CHECK(ApplyCompletedVersioning(&s, event));
  CHECK(PinnedVersionOf(s) == "orders:v1");
  CHECK(s.versioning_info().behavior() == enums::VERSIONING_BEHAVIOR_PINNED);
}

TEST_CASE("run versioning: an activity reaching the new version moves an unpinned run", "[history]") {
  kairos::records::ExecutionState s;
  temporal::api::history::v1::WorkflowTaskCompletedEventAttributes event;
  RecordVersionedTask(&s, Completed("v1", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event);
  RoutingTarget v2;
  v2.version.set_deployment_name("orders");
  v2.version.set_build_id("v2");
  v2.revision = 3;
  RoutingTarget v1 = v2;
  v1.version.set_build_id("v1");

  CHECK(CheckActivityDispatch(s, "orders:v1", v1) == ActivityDispatch::kStart);  // Its own version.
  CHECK(CheckActivityDispatch(s, "orders:v3", v2) == ActivityDispatch::kStart);  // Not where its task goes.
  CHECK(CheckActivityDispatch(s, "orders:v2", v2) == ActivityDispatch::kStartTransition);
  StartVersionTransition(&s, v2);
  CHECK(s.versioning_info().version_transition().deployment_version().build_id() == "v2");
  CHECK(s.versioning_info().revision_number() == 3);
  CHECK(CheckActivityDispatch(s, "orders:v1", v1) == ActivityDispatch::kHold);  // Waits for the transition.
  RecordVersionedTask(&s, Completed("v2", enums::VERSIONING_BEHAVIOR_AUTO_UPGRADE), &event);
  CHECK_FALSE(s.versioning_info().has_version_transition());
  CHECK(CheckActivityDispatch(s, "orders:v2", v2) == ActivityDispatch::kStart);

  kairos::records::ExecutionState pinned;
  RecordVersionedTask(&pinned, Completed("v1", enums::VERSIONING_BEHAVIOR_PINNED), &event);
  CHECK(CheckActivityDispatch(pinned, "orders:v2", v2) == ActivityDispatch::kStart);  // Its activities are routed.
}
