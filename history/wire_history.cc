#include "wire_history.h"

#include <cstdint>

#include <google/protobuf/unknown_field_set.h>

namespace kairos::history {
namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

constexpr uint32_t kLengthDelimited = 2;  // Protobuf's wire type of bytes and messages.

}  // namespace

WireHistory::WireHistory(temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse* response)
    : bytes_(response->GetReflection()->MutableUnknownFields(response)->AddLengthDelimited(
          temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse::kHistoryFieldNumber)) {}

void WireHistory::AddSerialized(std::string_view event) {
  AppendVarint(temporal::api::history::v1::History::kEventsFieldNumber << 3 | kLengthDelimited, bytes_);
  AppendVarint(event.size(), bytes_);
  bytes_->append(event);
}

void WireHistory::Add(const temporal::api::history::v1::HistoryEvent& event) {
  AddSerialized(event.SerializeAsString());
}

}  // namespace kairos::history
