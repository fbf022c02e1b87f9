// The Nexus HTTP protocol's forms of Temporal's messages, as Temporal's
// frontend converts them: a payload as content (a body and its Content-*
// headers) and back, and failures as the protocol's failure JSON
// ({"message", "stackTrace", "metadata", "details", "cause"}).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/failure/v1/message.pb.h"
#include "temporal/api/nexus/v1/message.pb.h"

namespace kairos::http {

using NexusJson = nlohmann::ordered_json;

// A body and its content headers, named without "Content-" and lower-cased
// ("type", "length", ...).
struct NexusContent {
  std::map<std::string, std::string> header;
  std::string data;
};

// Content the caller sent, as the payload the handler worker gets: JSON as
// json/plain, an x-temporal-payload as itself, no body as binary/null,
// anything else as unknown/nexus-content with its headers kept.
temporal::api::common::v1::Payload PayloadFromContent(const NexusContent& content);
// A worker's payload as content: the inverse of PayloadFromContent, and an
// application/x-temporal-payload (the serialized payload) for the rest.
NexusContent ContentFromPayload(const temporal::api::common::v1::Payload& payload);

// A Temporal failure in the protocol's form. A handler error
// (NexusHandlerFailureInfo) becomes a "nexus.HandlerError" with its type and
// retry behaviour; any other failure keeps its proto JSON as details.
NexusJson NexusFailure(const temporal::api::failure::v1::Failure& failure);
// The older proto form of a Nexus failure (a worker's operation error).
NexusJson NexusFailure(const temporal::api::nexus::v1::Failure& failure);
// A handler error the server makes itself ("upstream timeout", ...).
NexusJson HandlerErrorFailure(const std::string& type, const std::string& message, std::optional<bool> retryable);
// The wrapper of an operation's failure ("failed" or "canceled"), which a
// caller that does not announce Temporal's failure support never sees.
NexusJson OperationErrorFailure(const std::string& state, NexusJson cause);

// The inverse of NexusFailure, as Temporal's NexusFailureToTemporalFailure:
// a Temporal failure's proto JSON back, a "nexus.HandlerError" as
// NexusHandlerFailureInfo, a "nexus.OperationError" as a canceled or
// non-retryable "OperationError" application failure, any other failure with
// metadata or details as a "NexusFailure" application failure keeping them.
// False when the details do not decode.
bool TemporalFailureFromNexus(const NexusJson& failure, temporal::api::failure::v1::Failure* out);

// An unsuccessful operation's failure (a 424 answer's body, a completion's):
// its state (an OperationError's own, else `header_state`, which
// Nexus-Operation-State carries) and the cause the caller records, as
// Temporal unwraps it (a Temporal wrapper's cause; a canceled outcome always
// has CanceledFailureInfo). False when the state is neither "failed" nor
// "canceled" or the failure does not convert.
bool OperationFailureFromNexus(const NexusJson& failure, const std::string& header_state, std::string* state,
                               temporal::api::failure::v1::Failure* cause);

// One Nexus-Link header value (`<url>; type="..."`); false when malformed.
bool ParseNexusLink(const std::string& encoded, temporal::api::nexus::v1::Link* link);
// A header value split at `sep`, each part kept as is.
std::vector<std::string> SplitNexusHeader(const std::string& s, char sep);

}  // namespace kairos::http
