#include "kairos/deployments/versioning_rules.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <google/protobuf/struct.pb.h>

#include "kairos/errors.h"

namespace kairos::deployments {

namespace wsv1 = temporal::api::workflowservice::v1;
using google::protobuf::ListValue;

namespace {

using Assignments = std::vector<VersioningRules::Assignment>;
using Redirects = std::vector<VersioningRules::Redirect>;

bool Active(const VersioningRules::Assignment& a) { return a.delete_clock == 0; }
bool Active(const VersioningRules::Redirect& r) { return r.delete_clock == 0; }
bool FullyRamped(const VersioningRules::Assignment& a) { return a.ramp == 100; }

int ActiveCount(const Assignments& rules) {
  return static_cast<int>(std::count_if(rules.begin(), rules.end(), [](const auto& a) { return Active(a); }));
}

// The position of the `index`th active rule, or -1.
int ActualIndex(int index, const Assignments& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!Active(rules[i])) continue;
    if (index == 0) return static_cast<int>(i);
    --index;
  }
  return -1;
}

bool InVersionSets(const std::string& build, const VersionSets& sets) { return sets.Find(build).first >= 0; }

bool ActiveRedirectSource(const std::string& build, const Redirects& rules) {
  return std::any_of(rules.begin(), rules.end(), [&](const auto& r) { return Active(r) && r.source == build; });
}

bool PartiallyRampedTarget(const std::string& build, const Assignments& rules) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const auto& a) { return Active(a) && !FullyRamped(a) && a.target == build; });
}

// As Temporal's containsFullyRamped: deleted rules still kept count.
bool AnyFullyRamped(const Assignments& rules) {
  return std::any_of(rules.begin(), rules.end(), [](const auto& a) { return FullyRamped(a); });
}

grpc::Status InvalidRamp() { return errors::InvalidArgument("ramp percentage must be in range [0, 100]"); }
grpc::Status TargetInVersionSet() {
  return errors::FailedPrecondition("update breaks requirement, target build ID is already a member of a version set");
}
grpc::Status SourceInVersionSet() {
  return errors::FailedPrecondition("update breaks requirement, source build ID is already a member of a version set");
}
grpc::Status IndexOutOfBounds(int index, const Assignments& rules) {
  return errors::InvalidArgument("rule index " + std::to_string(index) +
                                 " is out of bounds for assignment rule list of length " +
                                 std::to_string(ActiveCount(rules)));
}
grpc::Status SourceNotFound(const std::string& source) {
  return errors::NotFound("no redirect rule found with source ID " + source);
}

// The rule of a request, its missing ramp made 100 %.
VersioningRules::Assignment RuleOf(const temporal::api::taskqueue::v1::BuildIdAssignmentRule& rule, int64_t clock) {
  VersioningRules::Assignment a;
  a.target = rule.target_build_id();
  a.ramp = rule.has_percentage_ramp() ? rule.percentage_ramp().ramp_percentage() : 100;
  a.create_clock = clock;
  return a;
}

// The checks of an assignment rule shared by insert and replace.
grpc::Status CheckAssignment(const VersioningRules::Assignment& a, const VersioningRules& rules, const VersionSets& sets) {
  if (!(a.ramp >= 0 && a.ramp <= 100)) return InvalidRamp();
  if (InVersionSets(a.target, sets)) return TargetInVersionSet();
  if (!FullyRamped(a) && ActiveRedirectSource(a.target, rules.redirect))
    return errors::FailedPrecondition(
        "update breaks requirement, this build ID cannot be the target of a partially-ramped assignment rule because "
        "it is the source of a redirect rule");
  return grpc::Status::OK;
}

grpc::Status CheckAssignmentConditions(const Assignments& rules, int max_rules, bool require_fully_ramped) {
  int count = ActiveCount(rules);
  if (max_rules > 0 && count > max_rules)
    return errors::FailedPrecondition("update exceeds number of assignment rules permitted in namespace (" +
                                      std::to_string(count) + "/" + std::to_string(max_rules) + ")");
  if (require_fully_ramped &&
      std::none_of(rules.begin(), rules.end(), [](const auto& a) { return Active(a) && FullyRamped(a); }))
    return errors::FailedPrecondition(
        "at least one fully-ramped assignment rule must exist (use force=true to bypass this requirement and set the "
        "unversioned queue as the default)");
  return grpc::Status::OK;
}

// The builds whose redirects lead to `build`, each once.
std::set<std::string> Upstream(const std::string& build, const std::multimap<std::string, std::string>& sources_of) {
  std::set<std::string> seen{build};
  std::vector<std::string> stack{build};
  while (!stack.empty()) {
    std::string b = stack.back();
    stack.pop_back();
    auto [from, to] = sources_of.equal_range(b);
    for (auto it = from; it != to; ++it)
      if (seen.insert(it->second).second) stack.push_back(it->second);
  }
  seen.erase(build);
  return seen;
}

bool Cyclic(const std::multimap<std::string, std::string>& edges) {
  std::set<std::string> done;
  std::set<std::string> on_path;
  std::function<bool(const std::string&)> visit = [&](const std::string& node) {
    if (on_path.count(node) != 0) return true;
    if (!done.insert(node).second) return false;
    on_path.insert(node);
    auto [from, to] = edges.equal_range(node);
    for (auto it = from; it != to; ++it)
      if (visit(it->second)) return true;
    on_path.erase(node);
    return false;
  };
  for (const auto& [node, _] : edges)
    if (visit(node)) return true;
  return false;
}

grpc::Status CheckRedirectConditions(const Redirects& rules, int max_rules, int max_upstream) {
  std::multimap<std::string, std::string> edges;       // source -> target
  std::multimap<std::string, std::string> sources_of;  // target -> source
  for (const auto& r : rules) {
    if (!Active(r)) continue;
    edges.emplace(r.source, r.target);
    sources_of.emplace(r.target, r.source);
  }
  int count = static_cast<int>(edges.size());
  if (max_rules > 0 && count > max_rules)
    return errors::FailedPrecondition("update exceeds number of redirect rules permitted in namespace (" +
                                      std::to_string(count) + "/" + std::to_string(max_rules) + ")");
  if (Cyclic(edges)) return errors::FailedPrecondition("update would break acyclic requirement");
  for (const auto& [_, target] : edges) {
    int upstream = static_cast<int>(Upstream(target, sources_of).size());
    if (upstream > max_upstream)
      return errors::FailedPrecondition("update exceeds number of upstream build ids permitted in namespace (" +
                                        std::to_string(upstream) + "/" + std::to_string(max_upstream) + ")");
  }
  return grpc::Status::OK;
}

grpc::Status CheckRedirect(const temporal::api::taskqueue::v1::CompatibleBuildIdRedirectRule& rule,
                           const VersionSets& sets) {
  if (rule.target_build_id().empty())
    return errors::InvalidArgument("the unversioned build ID cannot be the target of a redirect rule");
  if (InVersionSets(rule.source_build_id(), sets)) return SourceInVersionSet();
  if (InVersionSets(rule.target_build_id(), sets)) return TargetInVersionSet();
  return grpc::Status::OK;
}

Redirects::iterator ActiveRedirectFrom(const std::string& source, Redirects& rules) {
  return std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return Active(r) && r.source == source; });
}

// The operation on a copy of the rules.
grpc::Status Apply(VersioningRules& r, const VersionSets& sets, const wsv1::UpdateWorkerVersioningRulesRequest& req,
                   int64_t clock, bool has_recent_poller, const RuleLimits& limits) {
  using Req = wsv1::UpdateWorkerVersioningRulesRequest;
  switch (req.operation_case()) {
    case Req::kInsertAssignmentRule: {
      const auto& op = req.insert_assignment_rule();
      if (op.rule_index() < 0) return errors::InvalidArgument("rule index cannot be negative");
      auto rule = RuleOf(op.rule(), clock);
      if (auto st = CheckAssignment(rule, r, sets); !st.ok()) return st;
      int at = ActualIndex(op.rule_index(), r.assignment);
      r.assignment.insert(at < 0 ? r.assignment.end() : r.assignment.begin() + at, rule);
      return CheckAssignmentConditions(r.assignment, limits.max_assignment_rules, false);
    }
    case Req::kReplaceAssignmentRule: {
      const auto& op = req.replace_assignment_rule();
      auto rule = RuleOf(op.rule(), clock);
      if (auto st = CheckAssignment(rule, r, sets); !st.ok()) return st;
      bool had_fully_ramped = AnyFullyRamped(r.assignment);
      int at = ActualIndex(op.rule_index(), r.assignment);
      if (at < 0) return IndexOutOfBounds(op.rule_index(), r.assignment);
      r.assignment[at].delete_clock = clock;
      r.assignment.insert(r.assignment.begin() + at, rule);
      return CheckAssignmentConditions(r.assignment, 0, had_fully_ramped && !op.force());
    }
    case Req::kDeleteAssignmentRule: {
      const auto& op = req.delete_assignment_rule();
      bool had_fully_ramped = AnyFullyRamped(r.assignment);
      int at = ActualIndex(op.rule_index(), r.assignment);
      if (at < 0) return IndexOutOfBounds(op.rule_index(), r.assignment);
      r.assignment[at].delete_clock = clock;
      return CheckAssignmentConditions(r.assignment, 0, had_fully_ramped && !op.force());
    }
    case Req::kAddCompatibleRedirectRule: {
      const auto& rule = req.add_compatible_redirect_rule().rule();
      if (auto st = CheckRedirect(rule, sets); !st.ok()) return st;
      if (PartiallyRampedTarget(rule.source_build_id(), r.assignment))
        return errors::FailedPrecondition(
            "redirect rule source build ID cannot be the target of any partially-ramped assignment rule");
      if (auto it = ActiveRedirectFrom(rule.source_build_id(), r.redirect); it != r.redirect.end())
        return errors::AlreadyExists("source " + rule.source_build_id() + " already redirects to target " + it->target);
      r.redirect.insert(r.redirect.begin(), {rule.source_build_id(), rule.target_build_id(), clock, 0});
      return CheckRedirectConditions(r.redirect, limits.max_redirect_rules, limits.max_upstream_build_ids);
    }
    case Req::kReplaceCompatibleRedirectRule: {
      const auto& rule = req.replace_compatible_redirect_rule().rule();
      if (auto st = CheckRedirect(rule, sets); !st.ok()) return st;
      auto it = ActiveRedirectFrom(rule.source_build_id(), r.redirect);
      if (it == r.redirect.end()) return SourceNotFound(rule.source_build_id());
      it->delete_clock = clock;
      r.redirect.insert(r.redirect.begin(), {rule.source_build_id(), rule.target_build_id(), clock, 0});
      return CheckRedirectConditions(r.redirect, 0, limits.max_upstream_build_ids);
    }
    case Req::kDeleteCompatibleRedirectRule: {
      const auto& source = req.delete_compatible_redirect_rule().source_build_id();
      auto it = ActiveRedirectFrom(source, r.redirect);
      if (it == r.redirect.end()) return SourceNotFound(source);
      it->delete_clock = clock;
      return grpc::Status::OK;
    }
    case Req::kCommitBuildId: {
      const auto& op = req.commit_build_id();
      const std::string& target = op.target_build_id();
      if (!has_recent_poller && !op.force())
        return errors::FailedPrecondition("no versioned poller with build ID '" + target +
                                          "' seen within the last 1m10s, use force=true to commit anyways");
      if (InVersionSets(target, sets)) return TargetInVersionSet();
      for (auto& a : r.assignment)
        if (Active(a) && (a.target == target || FullyRamped(a))) a.delete_clock = clock;
      r.assignment.push_back({target, 100, clock, 0});
      return CheckAssignmentConditions(r.assignment, limits.max_assignment_rules, false);
    }
    case Req::OPERATION_NOT_SET:
      break;
  }
  return grpc::Status::OK;
}

}  // namespace

double RampBucket(const std::string& id) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<double>(h % 10000) / 100.0;
}

std::string VersioningRules::AssignedBuild(const std::string& run_id) const {
  for (const auto& a : assignment) {
    if (!Active(a)) continue;
    if (!FullyRamped(a) && a.ramp <= RampBucket(run_id)) continue;
    return a.target;
  }
  return "";
}

std::string VersioningRules::Redirected(std::string build) const {
  // At most one hop a rule: the rules are acyclic, this only guards.
  for (size_t hops = 0; hops <= redirect.size(); ++hops) {
    auto it = std::find_if(redirect.begin(), redirect.end(),
                           [&](const auto& r) { return Active(r) && r.source == build; });
    if (it == redirect.end()) break;
    build = it->target;
  }
  return build;
}

std::string VersioningRules::ConflictToken(int64_t clock) { return std::to_string(clock); }

google::protobuf::Timestamp VersioningRules::TimeOf(int64_t clock) {
  int64_t millis = VersionSets::ClockMillis(clock);
  google::protobuf::Timestamp t;
  t.set_seconds(millis / 1000);
  t.set_nanos(static_cast<int32_t>(millis % 1000) * 1'000'000);
  return t;
}

// [[target, ramp, create, delete]..., ] and [[source, target, create,
// delete]...] in a list: clocks below 2^53, exact as doubles.
std::string VersioningRules::Serialize() const {
  ListValue top;
  auto* assigned = top.add_values()->mutable_list_value();
  for (const auto& a : assignment) {
    auto* l = assigned->add_values()->mutable_list_value();
    l->add_values()->set_string_value(a.target);
    l->add_values()->set_number_value(a.ramp);
    l->add_values()->set_number_value(static_cast<double>(a.create_clock));
    l->add_values()->set_number_value(static_cast<double>(a.delete_clock));
  }
  auto* redirects = top.add_values()->mutable_list_value();
  for (const auto& r : redirect) {
    auto* l = redirects->add_values()->mutable_list_value();
    l->add_values()->set_string_value(r.source);
    l->add_values()->set_string_value(r.target);
    l->add_values()->set_number_value(static_cast<double>(r.create_clock));
    l->add_values()->set_number_value(static_cast<double>(r.delete_clock));
  }
  return top.SerializeAsString();
}

bool VersioningRules::Parse(const std::string& bytes) {
  ListValue top;
  if (!top.ParseFromString(bytes) || top.values_size() != 2) return false;
  VersioningRules out;
  for (const auto& v : top.values(0).list_value().values()) {
    const auto& l = v.list_value();
    if (l.values_size() != 4) return false;
    out.assignment.push_back({l.values(0).string_value(), static_cast<float>(l.values(1).number_value()),
                              static_cast<int64_t>(l.values(2).number_value()),
                              static_cast<int64_t>(l.values(3).number_value())});
  }
  for (const auto& v : top.values(1).list_value().values()) {
    const auto& l = v.list_value();
    if (l.values_size() != 4) return false;
    out.redirect.push_back({l.values(0).string_value(), l.values(1).string_value(),
                            static_cast<int64_t>(l.values(2).number_value()),
                            static_cast<int64_t>(l.values(3).number_value())});
  }
  *this = std::move(out);
  return true;
}

// The sets' list with the rules' list appended in a struct (a set is a
// list): a row written before there were rules is the sets' list alone.
std::string QueueRecord(const VersionSets& sets, const VersioningRules& rules) {
  if (rules.empty()) return sets.Serialize();
  ListValue top;
  top.ParseFromString(sets.Serialize());
  auto& fields = *top.add_values()->mutable_struct_value()->mutable_fields();
  fields["rules"].mutable_list_value()->ParseFromString(rules.Serialize());
  return top.SerializeAsString();
}

bool ParseQueueRecord(const std::string& bytes, VersionSets* sets, VersioningRules* rules) {
  ListValue top;
  if (!top.ParseFromString(bytes)) return false;
  VersioningRules r;
  if (top.values_size() > 0 && top.values(top.values_size() - 1).has_struct_value()) {
    const auto& fields = top.values(top.values_size() - 1).struct_value().fields();
    auto it = fields.find("rules");
    if (it == fields.end() || !r.Parse(it->second.list_value().SerializeAsString())) return false;
    top.mutable_values()->RemoveLast();
  }
  if (!sets->Parse(top.SerializeAsString())) return false;
  *rules = std::move(r);
  return true;
}

grpc::Status ApplyRulesUpdate(VersioningRules* rules, const VersionSets& sets,
                              const wsv1::UpdateWorkerVersioningRulesRequest& req, int64_t clock,
                              bool has_recent_poller, const RuleLimits& limits) {
  VersioningRules r = *rules;
  if (auto st = Apply(r, sets, req, clock, has_recent_poller, limits); !st.ok()) return st;
  // Tombstones past their retention go once the change is made.
  int64_t horizon = clock - limits.deleted_rule_retention_millis * 1000;
  std::erase_if(r.assignment, [&](const auto& a) { return !Active(a) && a.delete_clock < horizon; });
  std::erase_if(r.redirect, [&](const auto& x) { return !Active(x) && x.delete_clock < horizon; });
  *rules = std::move(r);
  return grpc::Status::OK;
}

grpc::Status ValidateRulesUpdate(const wsv1::UpdateWorkerVersioningRulesRequest& req) {
  using Req = wsv1::UpdateWorkerVersioningRulesRequest;
  std::vector<const std::string*> ids;
  switch (req.operation_case()) {
    case Req::kInsertAssignmentRule:
      ids = {&req.insert_assignment_rule().rule().target_build_id()};
      break;
    case Req::kReplaceAssignmentRule:
      ids = {&req.replace_assignment_rule().rule().target_build_id()};
      break;
    case Req::kAddCompatibleRedirectRule:
      ids = {&req.add_compatible_redirect_rule().rule().target_build_id(),
             &req.add_compatible_redirect_rule().rule().source_build_id()};
      break;
    case Req::kReplaceCompatibleRedirectRule:
      ids = {&req.replace_compatible_redirect_rule().rule().target_build_id()};
      break;
    case Req::kCommitBuildId:
      ids = {&req.commit_build_id().target_build_id()};
      break;
    default:
      break;
  }
  for (const auto* id : ids)
    if (id->size() > 255)
      return errors::InvalidArgument("BuildId must be <= 255 characters, was " + std::to_string(id->size()));
  return grpc::Status::OK;
}

}  // namespace kairos::deployments
