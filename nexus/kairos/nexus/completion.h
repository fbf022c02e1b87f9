// A Nexus operation's outcome for a caller outside this server: history
// hands it over when a run with a callback URL (not temporal://system) ends,
// and the HTTP side posts it to that URL as the Nexus protocol's completion
// request.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include <vector>

#include "kairos/records.pb.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/failure/v1/message.pb.h"
#include "temporal/api/nexus/v1/message.pb.h"

namespace kairos::nexus {

struct Completion {
  std::string url;
  std::map<std::string, std::string> header;  // The callback's headers.
  std::string state;                          // "succeeded", "failed" or "canceled".
  std::optional<temporal::api::common::v1::Payload> result;   // Succeeded (none: no result).
  std::optional<temporal::api::failure::v1::Failure> failure;  // Failed or canceled.
  int64_t start_time_nanos = 0;
  int64_t close_time_nanos = 0;
  std::string start_link_url;  // The handler run's started event (a WorkflowEvent link); may be empty.
};

// Delivers one completion. OK: delivered. UNAVAILABLE: worth sending again
// later (the caller was unreachable, busy or failing). Anything else: the
// caller refused it for good.
using CompletionSender = std::function<grpc::Status(const Completion&)>;

// An operation's outcome that its handler posted to the completion route
// (/namespaces/{ns}/nexus/callback), for the caller's history.
struct InboundCompletion {
  records::NexusCallbackToken token;                         // From the Temporal-Callback-Token header.
  std::string state;                                         // "succeeded", "failed" or "canceled".
  std::optional<temporal::api::common::v1::Payload> result;  // Succeeded.
  temporal::api::failure::v1::Failure failure;               // Failed or canceled: the cause recorded.
  std::string operation_token;                               // For a start not recorded yet,
  std::vector<temporal::api::nexus::v1::Link> links;         // and its links.
};

}  // namespace kairos::nexus
