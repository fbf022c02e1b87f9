// The Nexus HTTP protocol's forms of Temporal's messages, as Temporal's
// frontend converts them: a payload as content (a body and its Content-*
// headers) and back, and failures as the protocol's failure JSON
// ({"message", "stackTrace", "metadata", "details", "cause"}).
#pragma once

#include <map>
#include <optional>
#include <string>

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

}  // namespace kairos::http
