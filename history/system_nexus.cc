// The __temporal_system endpoint's checks and payloads (see system_nexus.h).
#include "kairos/history/system_nexus.h"

#include <google/protobuf/util/json_util.h>

namespace kairos::history {

namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

std::string MetadataValue(const temporal::api::common::v1::Payload& p, const std::string& key) {
  auto it = p.metadata().find(key);
  return it == p.metadata().end() ? "" : it->second;
}

}  // namespace

bool DecodeSignalWithStart(const temporal::api::common::v1::Payload& input, wsv1::SignalWithStartWorkflowExecutionRequest* req,
                           std::string* error) {
  const std::string encoding = MetadataValue(input, "encoding");
  const std::string type = MetadataValue(input, "messageType");
  if (!type.empty() && type != req->GetDescriptor()->full_name()) {
    *error = "failed to decode input payload: message type " + type + " is not " + req->GetDescriptor()->full_name();
    return false;
  }
  bool ok = false;
  if (encoding == "binary/protobuf") {
    ok = req->ParseFromString(input.data());
  } else if (encoding == "json/protobuf") {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    ok = google::protobuf::util::JsonStringToMessage(input.data(), req, options).ok();
  }
  if (!ok) *error = "failed to decode input payload: not a " + req->GetDescriptor()->full_name() + " (" + encoding + ")";
  return ok;
}

std::optional<std::string> CheckSystemNexusCommand(
    const temporal::api::command::v1::ScheduleNexusOperationCommandAttributes& a, const std::string& ns_name) {
  // As Temporal's checks, in its order and words.
  if (a.nexus_header_size() > 0)
    return std::string("ScheduleNexusOperationCommandAttributes.NexusHeader must be empty when using ") + kSystemNexusEndpoint +
           " endpoint";
  if (a.service() != kSystemNexusWorkflowService) return "service \"" + a.service() + "\" not found";
  if (a.operation() != kSystemNexusSignalWithStart) return "operation \"" + a.operation() + "\" not found";
  wsv1::SignalWithStartWorkflowExecutionRequest req;
  std::string error;
  if (!DecodeSignalWithStart(a.input(), &req, &error)) return error;
  if (!req.namespace_().empty() && req.namespace_() != ns_name)
    return "Namespace in request \"" + req.namespace_() + "\" does not match namespace in context \"" + ns_name + "\"";
  if (!req.request_id().empty()) return std::string("RequestID should not be set on the request");
  if (req.links_size() > 0) return std::string("Links should not be set on the request");
  return std::nullopt;
}

temporal::api::common::v1::Payload SystemNexusResult(const google::protobuf::Message& m) {
  temporal::api::common::v1::Payload p;
  (*p.mutable_metadata())["encoding"] = "binary/protobuf";
  (*p.mutable_metadata())["messageType"] = m.GetDescriptor()->full_name();
  p.set_data(m.SerializeAsString());
  return p;
}

}  // namespace kairos::history
