#include "kairos/http/payload_shorthand.h"

#include <functional>
#include <string>

#include <absl/strings/escaping.h>

namespace kairos::http {
namespace {

namespace pb = google::protobuf;
using json = nlohmann::ordered_json;

constexpr const char* kPayload = "temporal.api.common.v1.Payload";
constexpr const char* kPayloads = "temporal.api.common.v1.Payloads";
constexpr const char* kMessageTypeKey = "_protoMessageType";

std::string B64(const std::string& s) { return absl::Base64Escape(s); }

// Both alphabets, padded or not, as protojson writes and reads bytes.
bool UnB64(const std::string& s, std::string* out) {
  return absl::Base64Unescape(s, out) || absl::WebSafeBase64Unescape(s, out);
}

const pb::FieldDescriptor* FieldOf(const pb::Descriptor* type, const std::string& key) {
  const auto* f = type->FindFieldByCamelcaseName(key);
  return f != nullptr ? f : type->FindFieldByName(key);
}

bool IsWellKnown(const pb::Descriptor* type) {
  return type->file()->package() == "google.protobuf" && type->full_name() != "google.protobuf.Any";
}

// Applies `on_payload(value, is_payloads)` to every Payload/Payloads value of
// the document, recursing through messages, repeated fields, maps and Any.
using Visitor = std::function<void(json&, bool)>;

void Walk(json& doc, const pb::Descriptor* type, const Visitor& on_payload);

void WalkValue(json& value, const pb::FieldDescriptor* field, const Visitor& on_payload) {
  if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return;
  const auto* type = field->message_type();
  if (field->is_map()) {
    const auto* value_field = type->FindFieldByName("value");
    if (!value.is_object() || value_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return;
    for (auto& [k, v] : value.items()) WalkValue(v, value_field, on_payload);
    return;
  }
  auto one = [&](json& v) {
    if (type->full_name() == kPayload) {
      on_payload(v, false);
    } else if (type->full_name() == kPayloads) {
      on_payload(v, true);
    } else if (!IsWellKnown(type)) {
      Walk(v, type, on_payload);
    }
  };
  if (field->is_repeated() && value.is_array()) {
    for (auto& v : value) one(v);
  } else if (!field->is_repeated()) {
    one(value);
  }
}

void Walk(json& doc, const pb::Descriptor* type, const Visitor& on_payload) {
  if (!doc.is_object()) return;
  if (type->full_name() == "google.protobuf.Any") {
    auto it = doc.find("@type");
    if (it == doc.end() || !it->is_string()) return;
    std::string url = it->get<std::string>();
    const auto* inner = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(url.substr(url.rfind('/') + 1));
    if (inner != nullptr && !IsWellKnown(inner)) Walk(doc, inner, on_payload);
    return;
  }
  for (auto& [key, value] : doc.items()) {
    if (const auto* field = FieldOf(type, key)) WalkValue(value, field, on_payload);
  }
}

// The metadata of a standard-form payload, decoded; false when it is not one.
bool Metadata(const json& payload, std::map<std::string, std::string>* out) {
  auto md = payload.find("metadata");
  if (md == payload.end() || !md->is_object()) return false;
  for (const auto& [k, v] : md->items()) {
    std::string decoded;
    if (!v.is_string() || !UnB64(v.get<std::string>(), &decoded)) return false;
    (*out)[k] = decoded;
  }
  return true;
}

// Writes one standard-form payload as shorthand; false when it has no shorthand.
bool ToShorthand(json& payload) {
  if (!payload.is_object()) return false;
  std::map<std::string, std::string> md;
  if (!Metadata(payload, &md)) return false;
  std::string data;
  if (auto d = payload.find("data"); d != payload.end() && (!d->is_string() || !UnB64(d->get<std::string>(), &data)))
    return false;
  const std::string& encoding = md["encoding"];
  if (encoding == "binary/null") {
    payload = nullptr;
    return true;
  }
  if (encoding == "json/plain" && md.size() == 1) {
    json value = json::parse(data, nullptr, false);
    if (value.is_discarded()) return false;
    payload = std::move(value);
    return true;
  }
  if (encoding == "json/protobuf" && md.size() == 2 && !md["messageType"].empty()) {
    json value = json::parse(data, nullptr, false);
    if (!value.is_object()) return false;
    value[kMessageTypeKey] = md["messageType"];
    payload = std::move(value);
    return true;
  }
  return false;
}

// A payload already in standard form: exactly metadata (base64 strings, with
// an encoding) and data (base64), or binary/null metadata alone.
bool IsStandard(const json& v) {
  if (!v.is_object()) return false;
  std::map<std::string, std::string> md;
  if (!Metadata(v, &md) || md.find("encoding") == md.end()) return false;
  auto d = v.find("data");
  if (d == v.end()) return v.size() == 1 && md["encoding"] == "binary/null";
  std::string data;
  return v.size() == 2 && d->is_string() && UnB64(d->get<std::string>(), &data);
}

void FromShorthand(json& v) {
  if (IsStandard(v)) return;
  if (v.is_null()) {
    v = json{{"metadata", {{"encoding", B64("binary/null")}}}};
    return;
  }
  if (v.is_object() && v.contains(kMessageTypeKey) && v[kMessageTypeKey].is_string()) {
    std::string message_type = v[kMessageTypeKey].get<std::string>();
    v.erase(kMessageTypeKey);
    v = json{{"metadata", {{"encoding", B64("json/protobuf")}, {"messageType", B64(message_type)}}},
             {"data", B64(v.dump())}};
    return;
  }
  v = json{{"metadata", {{"encoding", B64("json/plain")}}}, {"data", B64(v.dump())}};
}

}  // namespace

void PayloadsToShorthand(json& doc, const pb::Descriptor* type) {
  Walk(doc, type, [](json& v, bool is_payloads) {
    if (!is_payloads) {
      ToShorthand(v);
      return;
    }
    // Payloads become an array only when every one of them has a shorthand.
    auto list = v.find("payloads");
    if (!v.is_object() || v.size() != 1 || list == v.end() || !list->is_array()) return;
    json copy = *list;
    for (auto& p : copy)
      if (!ToShorthand(p)) return;
    v = std::move(copy);
  });
}

void PayloadsFromShorthand(json& doc, const pb::Descriptor* type) {
  Walk(doc, type, [](json& v, bool is_payloads) {
    if (!is_payloads) {
      FromShorthand(v);
      return;
    }
    if (v.is_array()) {
      for (auto& p : v) FromShorthand(p);
      v = json{{"payloads", std::move(v)}};
    } else if (v.is_object()) {
      if (auto list = v.find("payloads"); list != v.end() && list->is_array())
        for (auto& p : *list) FromShorthand(p);
    }
  });
}

}  // namespace kairos::http
