#include "wire_history.h"

#include <cstdint>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/wire_format_lite.h>

namespace kairos::history {

using google::protobuf::internal::WireFormatLite;

WireHistory::WireHistory(temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse* response)
    : bytes_(response->GetReflection()->MutableUnknownFields(response)->AddLengthDelimited(
          temporal::api::workflowservice::v1::PollWorkflowTaskQueueResponse::kHistoryFieldNumber)) {}

void WireHistory::AddSerialized(std::string_view event) {
  // The events field's tag and the event's length, then its bytes.
  uint8_t header[10];  // Two 32-bit varints, five bytes at most each.
  uint8_t* end = WireFormatLite::WriteTagToArray(temporal::api::history::v1::History::kEventsFieldNumber,
                                                 WireFormatLite::WIRETYPE_LENGTH_DELIMITED, header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(event.size()), end);
  bytes_->append(reinterpret_cast<const char*>(header), end - header);
  bytes_->append(event);
}

void WireHistory::Add(const temporal::api::history::v1::HistoryEvent& event) {
  AddSerialized(event.SerializeAsString());
}

}  // namespace kairos::history
