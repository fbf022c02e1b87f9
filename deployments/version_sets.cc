#include "kairos/deployments/version_sets.h"

#include <algorithm>

#include <google/protobuf/struct.pb.h>

#include "kairos/errors.h"

namespace kairos::deployments {

namespace wsv1 = temporal::api::workflowservice::v1;
using google::protobuf::ListValue;

std::pair<int, int> VersionSets::Find(const std::string& build_id) const {
  for (size_t s = 0; s < sets.size(); ++s)
    for (size_t b = 0; b < sets[s].builds.size(); ++b)
      if (sets[s].builds[b].id == build_id) return {static_cast<int>(s), static_cast<int>(b)};
  return {-1, -1};
}

int VersionSets::BuildCount() const {
  int n = 0;
  for (const auto& s : sets) n += static_cast<int>(s.builds.size());
  return n;
}

int64_t VersionSets::NextClock(int64_t now_millis) const { return std::max(clock + 1, now_millis * 1000); }

// [clock, [set clock, build, build clock, build, build clock...], ...]:
// numbers below 2^53, exact as the doubles of a ListValue.
std::string VersionSets::Serialize() const {
  ListValue top;
  top.add_values()->set_number_value(static_cast<double>(clock));
  for (const auto& s : sets) {
    auto* set = top.add_values()->mutable_list_value();
    set->add_values()->set_number_value(static_cast<double>(s.default_clock));
    for (const auto& b : s.builds) {
      set->add_values()->set_string_value(b.id);
      set->add_values()->set_number_value(static_cast<double>(b.default_clock));
    }
  }
  return top.SerializeAsString();
}

bool VersionSets::Parse(const std::string& bytes) {
  ListValue top;
  if (!top.ParseFromString(bytes) || top.values_size() < 1) return false;
  VersionSets out;
  out.clock = static_cast<int64_t>(top.values(0).number_value());
  for (int i = 1; i < top.values_size(); ++i) {
    const ListValue& l = top.values(i).list_value();
    if (l.values_size() < 1 || l.values_size() % 2 != 1) return false;
    Set s;
    s.default_clock = static_cast<int64_t>(l.values(0).number_value());
    for (int j = 1; j + 1 < l.values_size(); j += 2)
      s.builds.push_back({l.values(j).string_value(), static_cast<int64_t>(l.values(j + 1).number_value())});
    out.sets.push_back(std::move(s));
  }
  *this = std::move(out);
  return true;
}

namespace {

// Moves the set to the end (the queue's default).
void MakeDefaultSet(VersionSets& d, int set, int64_t clock) {
  d.sets[set].default_clock = clock;
  std::rotate(d.sets.begin() + set, d.sets.begin() + set + 1, d.sets.end());
}

// Moves the build to the end of its set (the set's default).
void MakeDefaultInSet(VersionSets& d, int set, int build, int64_t clock) {
  auto& builds = d.sets[set].builds;
  builds[build].default_clock = clock;
  std::rotate(builds.begin() + build, builds.begin() + build + 1, builds.end());
}

const std::string& TargetedBuild(const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req) {
  switch (req.operation_case()) {
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewCompatibleBuildId:
      return req.add_new_compatible_build_id().new_build_id();
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteSetByBuildId:
      return req.promote_set_by_build_id();
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteBuildIdWithinSet:
      return req.promote_build_id_within_set();
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewBuildIdInNewDefaultSet:
      return req.add_new_build_id_in_new_default_set();
    default:
      return req.merge_sets().primary_set_build_id();
  }
}

grpc::Status Apply(VersionSets& d, const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req, int64_t clock) {
  const std::string& target = TargetedBuild(req);
  auto [set, in_set] = d.Find(target);
  int num_sets = static_cast<int>(d.sets.size());
  switch (req.operation_case()) {
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewBuildIdInNewDefaultSet: {
      // Already the only build of the default set: nothing to do.
      if (num_sets > 0 && set == num_sets - 1 && in_set == 0 && d.sets.back().builds.size() == 1)
        return grpc::Status::OK;
      if (set != -1) return errors::InvalidArgument("version " + target + " already exists");
      d.sets.push_back({{{target, clock}}, clock});
      return grpc::Status::OK;
    }
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewCompatibleBuildId: {
      const auto& op = req.add_new_compatible_build_id();
      int compat = d.Find(op.existing_compatible_build_id()).first;
      if (compat == -1)
        return errors::NotFound("targeted compatible_version " + op.existing_compatible_build_id() + " not found");
      if (set != -1) {
        if (compat != set)
          return errors::InvalidArgument(target + " requested to be made compatible with " +
                                         op.existing_compatible_build_id() + " but both versions exist and are incompatible");
        if (op.make_set_default() && set != num_sets - 1)
          return errors::InvalidArgument("version " + target + " already exists and is not default for queue");
        if (in_set != static_cast<int>(d.sets[set].builds.size()) - 1)
          return errors::InvalidArgument("version " + target + " already exists and is not default in set");
        return grpc::Status::OK;
      }
      d.sets[compat].builds.push_back({target, clock});
      if (op.make_set_default()) MakeDefaultSet(d, compat, clock);
      return grpc::Status::OK;
    }
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteSetByBuildId:
      if (set == -1) return errors::NotFound("targeted version " + target + " not found");
      if (set != num_sets - 1) MakeDefaultSet(d, set, clock);
      return grpc::Status::OK;
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteBuildIdWithinSet:
      if (set == -1) return errors::NotFound("targeted version " + target + " not found");
      if (in_set != static_cast<int>(d.sets[set].builds.size()) - 1) MakeDefaultInSet(d, set, in_set, clock);
      return grpc::Status::OK;
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kMergeSets: {
      if (set == -1) return errors::NotFound("targeted primary version " + target + " not found");
      const std::string& secondary_id = req.merge_sets().secondary_set_build_id();
      int secondary = d.Find(secondary_id).first;
      if (secondary == -1) return errors::NotFound("targeted secondary version " + secondary_id + " not found");
      if (secondary == set) return grpc::Status::OK;
      // One set of both builds, ordered by when each became default; the
      // primary set's default stays the default (it is stamped now). The
      // merged set takes the later of the two sets' places.
      VersionSets::Set merged;
      d.sets[set].builds.back().default_clock = clock;
      merged.builds = d.sets[set].builds;
      merged.builds.insert(merged.builds.end(), d.sets[secondary].builds.begin(), d.sets[secondary].builds.end());
      std::stable_sort(merged.builds.begin(), merged.builds.end(),
                       [](const auto& a, const auto& b) { return a.default_clock < b.default_clock; });
      merged.default_clock = std::max(d.sets[set].default_clock, d.sets[secondary].default_clock);
      d.sets.erase(d.sets.begin() + std::max(set, secondary));
      d.sets.erase(d.sets.begin() + std::min(set, secondary));
      d.sets.push_back(std::move(merged));
      std::stable_sort(d.sets.begin(), d.sets.end(),
                       [](const auto& a, const auto& b) { return a.default_clock < b.default_clock; });
      return grpc::Status::OK;
    }
    default:
      return errors::InvalidArgument("an operation must be specified");
  }
}

}  // namespace

grpc::Status ApplyVersionSetUpdate(VersionSets* data, const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req,
                                   int64_t clock, const VersionSetLimits& limits) {
  VersionSets next = *data;
  if (auto st = Apply(next, req, clock); !st.ok()) return st;
  int sets = static_cast<int>(next.sets.size());
  if (limits.max_sets > 0 && sets > limits.max_sets)
    return errors::FailedPrecondition("update would exceed number of compatible version sets permitted in namespace "
                                      "dynamic config (" + std::to_string(sets) + "/" +
                                      std::to_string(limits.max_sets) + ")");
  int builds = next.BuildCount();
  if (limits.max_build_ids > 0 && builds > limits.max_build_ids)
    return errors::FailedPrecondition("update would exceed number of build IDs permitted in namespace dynamic config (" +
                                      std::to_string(builds) + "/" + std::to_string(limits.max_build_ids) + ")");
  *data = std::move(next);
  return grpc::Status::OK;
}

grpc::Status ValidateVersionSetUpdate(const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req, int max_build_id_size) {
  std::string message = "request to update worker build ID compatability requires: ";
  bool bad = false;
  // Temporal joins the heading and each item with ", ".
  auto need = [&](const std::string& what) {
    message += ", " + what;
    bad = true;
  };
  auto check_size = [&](const std::string& id) {
    if (static_cast<int>(id.size()) > max_build_id_size)
      need(" Worker build IDs to be no larger than " + std::to_string(max_build_id_size) + " characters");
  };
  if (req.namespace_().empty()) need("`namespace` to be set");
  if (req.task_queue().empty()) need("`task_queue` to be set");
  switch (req.operation_case()) {
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::OPERATION_NOT_SET:
      need("an operation to be specified");
      break;
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewCompatibleBuildId: {
      const auto& op = req.add_new_compatible_build_id();
      if (op.new_build_id().empty()) need("`add_new_compatible_version` to be set");
      else check_size(op.new_build_id());
      if (op.existing_compatible_build_id().empty()) need("`existing_compatible_version` to be set");
      break;
    }
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kAddNewBuildIdInNewDefaultSet:
      if (req.add_new_build_id_in_new_default_set().empty()) need("`add_new_version_id_in_new_default_set` to be set");
      else check_size(req.add_new_build_id_in_new_default_set());
      break;
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteSetByBuildId:
      if (req.promote_set_by_build_id().empty()) need("`promote_set_by_version_id` to be set");
      else check_size(req.promote_set_by_build_id());
      break;
    case wsv1::UpdateWorkerBuildIdCompatibilityRequest::kPromoteBuildIdWithinSet:
      if (req.promote_build_id_within_set().empty()) need("`promote_version_id_within_set` to be set");
      else check_size(req.promote_build_id_within_set());
      break;
    default:
      break;
  }
  if (bad) return errors::InvalidArgument(message);
  return grpc::Status::OK;
}

}  // namespace kairos::deployments
