#pragma once
// A workflow task's history in the form the store keeps its events: each
// event's bytes appended to the task's `history` field as wire bytes, not
// parsed into messages to be serialized again when the response is sent.
#include <string>
#include <string_view>

#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

class WireHistory {
 public:
  // The response's `history` field, written as an unknown field: protobuf
  // sends it as is, and a reader parses it as the field itself. Nothing in
  // the server reads a task's history back; the response must not also get
  // a `history` set the usual way.
  explicit WireHistory(temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse* response);

  void AddSerialized(std::string_view event);  // One stored event's bytes.
  void Add(const temporal::api::history::v1::HistoryEvent& event);

 private:
  std::string* bytes_;  // Owned by the response's unknown fields.
};

}  // namespace kairos::history
