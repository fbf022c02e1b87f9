#include "kairos/history/reset_operations.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include "kairos/errors.h"
#include "kairos/history/versioning.h"

namespace kairos::history {

namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

namespace wpb = temporal::api::workflow::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Whether `path` (dot-separated field names) names a field of `d`, as
// Go's fieldmaskpb.New checks it.
bool IsFieldPath(const Descriptor* d, const std::string& path) {
  size_t from = 0;
  while (d) {
    size_t dot = path.find('.', from);
    const FieldDescriptor* f = d->FindFieldByName(path.substr(from, dot == std::string::npos ? dot : dot - from));
    if (!f) return false;
    if (dot == std::string::npos) return true;
    if (f->is_repeated() || f->type() != FieldDescriptor::TYPE_MESSAGE) return false;
    d = f->message_type();
    from = dot + 1;
  }
  return false;
}

bool Under(const std::string& path, const std::string& field) {
  return path == field || path.rfind(field + ".", 0) == 0;
}

}  // namespace

grpc::Status CheckPostResetOperations(const wsv1::ResetWorkflowExecutionRequest& req) {
  for (const auto& op : req.post_reset_operations()) {
    switch (op.variant_case()) {
      case wpb::PostResetOperation::kUpdateWorkflowOptions:
        break;
      case wpb::PostResetOperation::kSignalWorkflow:
        // Temporal names the Go type of the operation it does not take.
        return errors::InvalidArgument("unsupported post reset operation: *workflow.PostResetOperation_SignalWorkflow_");
      default:
        return errors::InvalidArgument("unsupported post reset operation: <nil>");
    }
    for (const auto& path : op.update_workflow_options().update_mask().paths()) {
      if (!IsFieldPath(wpb::WorkflowExecutionOptions::descriptor(), path))
        return errors::InvalidArgument("error applying update_options: proto: invalid path \"" + path +
                                       "\" for message \"temporal.api.workflow.v1.WorkflowExecutionOptions\"");
      if (Under(path, "time_skipping_config"))
        return errors::InvalidArgument("time_skipping_config needs time skipping, which Kairos does not have");
    }
  }
  return grpc::Status::OK;
}

void ApplyPostResetOperations(MutableState& ms, const wsv1::ResetWorkflowExecutionRequest& req) {
  for (const auto& op : req.post_reset_operations()) {
    const auto& options = op.update_workflow_options().workflow_execution_options();
    auto* start = ms.s().mutable_start();
    const bool had = start->has_priority();
    const temporal::api::common::v1::Priority before = start->priority();
    const wpb::VersioningOverride override_before = ms.s().versioning_info().versioning_override();
    wpb::VersioningOverride override = override_before;
    for (const auto& path : op.update_workflow_options().update_mask().paths()) {
      if (path == "priority") {
        if (options.has_priority()) *start->mutable_priority() = options.priority(); else start->clear_priority();
      } else if (path == "priority.priority_key") {
        start->mutable_priority()->set_priority_key(options.priority().priority_key());
      } else if (path == "priority.fairness_key") {
        start->mutable_priority()->set_fairness_key(options.priority().fairness_key());
      } else if (path == "priority.fairness_weight") {
        start->mutable_priority()->set_fairness_weight(options.priority().fairness_weight());
      } else if (Under(path, "versioning_override")) {
        override = options.versioning_override();
      }
    }
    const bool override_changed = !google::protobuf::util::MessageDifferencer::Equals(override_before, override);
    if (!override_changed && had == start->has_priority() &&
        google::protobuf::util::MessageDifferencer::Equals(before, start->priority()))
      continue;
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED);
    e.set_worker_may_ignore(true);
    auto* a = e.mutable_workflow_execution_options_updated_event_attributes();
    // The run's override after the operation; none: Temporal writes it unset.
    if (override.ByteSizeLong() == 0) a->set_unset_versioning_override(true); else *a->mutable_versioning_override() = override;
    if (start->has_priority()) *a->mutable_priority() = start->priority();
    if (override_changed && SetVersioningOverride(&ms.s(), override)) MarkVersioningSearchAttributesChanged(ms);
  }
}

}  // namespace kairos::history
