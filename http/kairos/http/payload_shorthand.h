// Temporal's JSON "payload shorthand" on the HTTP API: a json/plain Payload is
// written as the JSON value it holds, Payloads as an array of such values,
// binary/null as null, and json/protobuf as the object with a
// "_protoMessageType" key. A Payload that cannot be written that way keeps its
// standard {"metadata": ..., "data": ...} form. Input accepts both forms.
//
// Both directions work on a JSON document that mirrors a message of the given
// descriptor (proto3 JSON mapping, camelCase names), walking it with the
// descriptor to find every Payload and Payloads, including inside maps,
// repeated fields and Any.
#pragma once

#include <google/protobuf/descriptor.h>
#include <nlohmann/json.hpp>

namespace kairos::http {

// Rewrites standard-form payloads of `doc` (JSON of a `type` message) into shorthand.
void PayloadsToShorthand(nlohmann::ordered_json& doc, const google::protobuf::Descriptor* type);

// Rewrites shorthand payloads of `doc` into the standard form that the proto3
// JSON parser reads.
void PayloadsFromShorthand(nlohmann::ordered_json& doc, const google::protobuf::Descriptor* type);

}  // namespace kairos::http
