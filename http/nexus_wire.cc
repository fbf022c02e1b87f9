#include "kairos/http/nexus_wire.h"

#include <cctype>
#include <vector>

#include <absl/strings/escaping.h>
#include <google/protobuf/util/json_util.h>

namespace kairos::http {
namespace {

namespace common = temporal::api::common::v1;
namespace fv1 = temporal::api::failure::v1;
namespace enums = temporal::api::enums::v1;

constexpr char kUnknownContent[] = "unknown/nexus-content";

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A media type and its parameters (names lower-cased, values unquoted), as
// Go's mime.ParseMediaType reads them; false when it does not parse.
bool ParseMediaType(const std::string& value, std::string* type, std::map<std::string, std::string>* params) {
  std::vector<std::string> parts;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size() && value[i] == '"') quoted = !quoted;
    if (i == value.size() || (value[i] == ';' && !quoted)) {
      parts.push_back(Trim(value.substr(start, i - start)));
      start = i + 1;
    }
  }
  *type = Lower(parts[0]);
  if (type->empty() || type->find('/') == std::string::npos) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    size_t eq = parts[i].find('=');
    if (eq == std::string::npos) return false;
    std::string key = Lower(Trim(parts[i].substr(0, eq)));
    std::string val = Trim(parts[i].substr(eq + 1));
    if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
    if (key.empty() || params->contains(key)) return false;
    (*params)[key] = val;
  }
  return true;
}

void SetUnknown(const std::map<std::string, std::string>& header, common::Payload* p) {
  for (const auto& [k, v] : header) (*p->mutable_metadata())[k] = v;
  (*p->mutable_metadata())["encoding"] = kUnknownContent;
}

NexusContent AsTemporalPayload(const common::Payload& payload) {
  NexusContent c;
  c.header["type"] = "application/x-temporal-payload";
  payload.SerializeToString(&c.data);
  return c;
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out).ok()) return "{}";
  return out;
}

NexusJson Failure(const std::string& message, const std::string& stack_trace, NexusJson metadata, NexusJson details,
                  NexusJson cause) {
  NexusJson f = NexusJson::object();
  if (!message.empty()) f["message"] = message;
  if (!stack_trace.empty()) f["stackTrace"] = stack_trace;
  if (!metadata.empty()) f["metadata"] = std::move(metadata);
  if (!details.is_null()) f["details"] = std::move(details);
  if (!cause.is_null()) f["cause"] = std::move(cause);
  return f;
}

std::string StringField(const NexusJson& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A failure Temporal does not know, kept whole (but its message and stack
// trace) as the details of a "NexusFailure" application failure.
void SetNexusFailureInfo(const NexusJson& f, fv1::Failure* out) {
  auto* info = out->mutable_application_failure_info();
  info->set_type("NexusFailure");
  NexusJson kept = NexusJson::object();
  for (const char* key : {"metadata", "details", "cause"})
    if (auto it = f.find(key); it != f.end() && !it->is_null()) kept[key] = *it;
  if (kept.empty()) return;
  auto* p = info->mutable_details()->add_payloads();
  (*p->mutable_metadata())["encoding"] = "json/plain";
  p->set_data(kept.dump());
}

}  // namespace

bool TemporalFailureFromNexus(const NexusJson& f, fv1::Failure* out) {
  out->Clear();
  if (!f.is_object()) return false;
  const std::string message = StringField(f, "message"), stack_trace = StringField(f, "stackTrace");
  const auto metadata = f.find("metadata");
  const auto details_it = f.find("details");
  const NexusJson details = details_it == f.end() ? NexusJson() : *details_it;
  if (metadata != f.end() && metadata->is_object()) {
    const std::string type = StringField(*metadata, "type");
    if (type == fv1::Failure::descriptor()->full_name()) {
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = true;
      if (!google::protobuf::util::JsonStringToMessage(details.is_null() ? "{}" : details.dump(), out, options).ok())
        return false;
    } else if (type == "nexus.OperationError") {
      if (!details.is_object()) return false;
      if (StringField(details, "state") == "canceled") {
        out->mutable_canceled_failure_info();
      } else {
        out->mutable_application_failure_info()->set_non_retryable(true);
        out->mutable_application_failure_info()->set_type("OperationError");
      }
    } else if (type == "nexus.HandlerError") {
      if (!details.is_object()) return false;
      auto* info = out->mutable_nexus_handler_failure_info();
      info->set_type(StringField(details, "type"));
      if (auto r = details.find("retryableOverride"); r != details.end() && r->is_boolean())
        info->set_retry_behavior(r->get<bool>() ? enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE
                                                : enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE);
      if (std::string attrs = StringField(details, "encodedAttributes"); !attrs.empty()) {
        std::string json;
        if (!absl::WebSafeBase64Unescape(attrs, &json) ||
            !google::protobuf::util::JsonStringToMessage(json, out->mutable_encoded_attributes()).ok())
          return false;
      }
    } else {
      SetNexusFailureInfo(f, out);
    }
  } else if (!details.is_null()) {
    SetNexusFailureInfo(f, out);
  }
  out->set_message(message);
  out->set_stack_trace(stack_trace);
  if (auto cause = f.find("cause"); cause != f.end() && cause->is_object())
    return TemporalFailureFromNexus(*cause, out->mutable_cause());
  return true;
}

bool OperationFailureFromNexus(const NexusJson& failure, const std::string& header_state, std::string* state,
                               fv1::Failure* cause) {
  if (!failure.is_object()) return false;
  const NexusJson* source = &failure;
  *state = header_state;
  auto metadata = failure.find("metadata");
  if (metadata != failure.end() && metadata->is_object() && StringField(*metadata, "type") == "nexus.OperationError") {
    auto details = failure.find("details");
    *state = details != failure.end() && details->is_object() ? StringField(*details, "state") : "";
    auto inner = failure.find("cause");
    if (StringField(*metadata, "unwrap-error") == "true" && inner != failure.end() && inner->is_object())
      source = &*inner;
  }
  if (*state != "failed" && *state != "canceled") return false;
  if (!TemporalFailureFromNexus(*source, cause)) return false;
  if (*state == "canceled" && !cause->has_canceled_failure_info()) {
    // Older SDKs send an application failure for a canceled operation.
    fv1::Failure canceled;
    canceled.set_message(cause->message());
    canceled.set_stack_trace(cause->stack_trace());
    canceled.mutable_canceled_failure_info();
    if (cause->has_cause()) *canceled.mutable_cause() = cause->cause();
    *cause = std::move(canceled);
  }
  return true;
}

std::vector<std::string> SplitNexusHeader(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool ParseNexusLink(const std::string& encoded, temporal::api::nexus::v1::Link* link) {
  std::string s = Trim(encoded);
  if (s.empty() || s[0] != '<') return false;
  size_t end = s.find('>');
  if (end == std::string::npos) return false;
  std::string url = Trim(s.substr(1, end - 1));
  if (url.empty()) return false;
  auto params = SplitNexusHeader(s.substr(end + 1), ';');
  if (params.size() < 2 || !Trim(params[0]).empty()) return false;
  bool typed = false;
  for (size_t i = 1; i < params.size(); ++i) {
    std::string p = Trim(params[i]);
    size_t eq = p.find('=');
    if (p.empty() || eq == std::string::npos) return false;
    std::string key = Trim(p.substr(0, eq)), val = Trim(p.substr(eq + 1));
    bool open = !val.empty() && val.front() == '"', close = val.size() > 1 && val.back() == '"';
    if (open != close) return false;
    if (open) val = val.substr(1, val.size() - 2);
    if (key != "type") continue;
    if (val.empty()) return false;
    for (char c : val)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '/') return false;
    link->set_type(val);
    typed = true;
  }
  link->set_url(url);
  return typed;
}

common::Payload PayloadFromContent(const NexusContent& content) {
  common::Payload p;
  p.set_data(content.data);
  auto header = content.header;
  // The transport decoded the body; its length says nothing more.
  header.erase("encoding");
  header.erase("length");
  if (header.size() > 1) {
    SetUnknown(header, &p);
    return p;
  }
  auto type_it = header.find("type");
  if (type_it == header.end() || type_it->second.empty()) {
    if (header.empty() && content.data.empty()) (*p.mutable_metadata())["encoding"] = "binary/null";
    else SetUnknown(header, &p);
    return p;
  }
  std::string type;
  std::map<std::string, std::string> params;
  if (!ParseMediaType(type_it->second, &type, &params)) {
    SetUnknown(header, &p);
    return p;
  }
  auto& md = *p.mutable_metadata();
  auto param = [&](const char* name) {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };
  if (type == "application/x-temporal-payload") {
    common::Payload inner;
    if (inner.ParseFromString(content.data)) return inner;
    SetUnknown(header, &p);
  } else if (type == "application/json" && params.empty()) {
    md["encoding"] = "json/plain";
  } else if (type == "application/json" && params.size() == 2 && param("format") == "protobuf" &&
             !param("message-type").empty()) {
    md["encoding"] = "json/protobuf";
    md["messageType"] = param("message-type");
  } else if (type == "application/x-protobuf" && params.size() == 1 && !param("message-type").empty()) {
    md["encoding"] = "binary/protobuf";
    md["messageType"] = param("message-type");
  } else if (type == "application/octet-stream" && params.empty()) {
    md["encoding"] = "binary/plain";
  } else {
    SetUnknown(header, &p);
  }
  return p;
}

NexusContent ContentFromPayload(const common::Payload& payload) {
  const auto& md = payload.metadata();
  if (md.empty()) return AsTemporalPayload(payload);
  NexusContent c;
  c.data = payload.data();
  auto get = [&](const char* key) {
    auto it = md.find(key);
    return it == md.end() ? std::string() : it->second;
  };
  const std::string encoding = get("encoding");
  const std::string message_type = get("messageType");
  if (encoding == kUnknownContent) {
    for (const auto& [k, v] : md)
      if (k != "encoding") c.header[k] = v;
  } else if (encoding == "json/protobuf" || encoding == "binary/protobuf") {
    if (md.size() != 2 || message_type.empty()) return AsTemporalPayload(payload);
    c.header["type"] = (encoding == "json/protobuf" ? "application/json; format=protobuf; message-type=\""
                                                     : "application/x-protobuf; message-type=\"") +
                       message_type + "\"";
  } else if (encoding == "json/plain" || encoding == "binary/null" || encoding == "binary/plain") {
    if (md.size() != 1) return AsTemporalPayload(payload);
    if (encoding == "json/plain") c.header["type"] = "application/json";
    if (encoding == "binary/plain") c.header["type"] = "application/octet-stream";
  } else {
    return AsTemporalPayload(payload);
  }
  return c;
}

NexusJson NexusFailure(const fv1::Failure& failure) {
  NexusJson cause = failure.has_cause() ? NexusFailure(failure.cause()) : NexusJson();
  if (failure.has_nexus_handler_failure_info()) {
    const auto& info = failure.nexus_handler_failure_info();
    NexusJson details = NexusJson::object();
    if (!info.type().empty()) details["type"] = info.type();
    if (info.retry_behavior() == enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE) details["retryableOverride"] = true;
    if (info.retry_behavior() == enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE)
      details["retryableOverride"] = false;
    if (failure.has_encoded_attributes())
      details["encodedAttributes"] = absl::WebSafeBase64Escape(ProtoJson(failure.encoded_attributes()));
    return Failure(failure.message(), failure.stack_trace(), {{"type", "nexus.HandlerError"}}, std::move(details),
                   std::move(cause));
  }
  // The message and stack trace travel outside the details.
  fv1::Failure rest = failure;
  rest.clear_message();
  rest.clear_stack_trace();
  return Failure(failure.message(), failure.stack_trace(), {{"type", fv1::Failure::descriptor()->full_name()}},
                 NexusJson::parse(ProtoJson(rest), nullptr, false), std::move(cause));
}

NexusJson NexusFailure(const temporal::api::nexus::v1::Failure& failure) {
  // Sorted, as Go writes a map.
  std::map<std::string, std::string> sorted(failure.metadata().begin(), failure.metadata().end());
  NexusJson metadata = NexusJson::object();
  for (const auto& [k, v] : sorted) metadata[k] = v;
  NexusJson details = failure.details().empty() ? NexusJson() : NexusJson::parse(failure.details(), nullptr, false);
  if (details.is_discarded()) details = NexusJson();
  return Failure(failure.message(), failure.stack_trace(), std::move(metadata), std::move(details),
                 failure.has_cause() ? NexusFailure(failure.cause()) : NexusJson());
}

NexusJson HandlerErrorFailure(const std::string& type, const std::string& message, std::optional<bool> retryable) {
  NexusJson details = NexusJson::object();
  details["type"] = type;
  if (retryable) details["retryableOverride"] = *retryable;
  return Failure(message, "", {{"type", "nexus.HandlerError"}}, std::move(details), NexusJson());
}

NexusJson OperationErrorFailure(const std::string& state, NexusJson cause) {
  NexusJson details = NexusJson::object();
  details["state"] = state;
  NexusJson metadata = NexusJson::object();
  metadata["type"] = "nexus.OperationError";
  metadata["unwrap-error"] = "true";
  return Failure("operation error", "", std::move(metadata), std::move(details), std::move(cause));
}

}  // namespace kairos::http
