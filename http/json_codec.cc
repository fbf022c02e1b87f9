#include "kairos/http/json_codec.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "kairos/http/payload_shorthand.h"
#include "kairos/rpc_status.pb.h"

namespace kairos::http {
namespace {

namespace pb = google::protobuf;
using json = nlohmann::ordered_json;

// Resolves "execution.run_id" or "execution.runId" against `type`; returns the
// JSON names of the path and the last field, or nullptr when a part is unknown
// or goes through a non-message field.
const pb::FieldDescriptor* Resolve(const pb::Descriptor* type, const std::string& path,
                                   std::vector<std::string>* json_path) {
  const pb::FieldDescriptor* field = nullptr;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('.', i);
    if (j == std::string::npos) j = path.size();
    std::string name = path.substr(i, j - i);
    if (type == nullptr) return nullptr;
    field = type->FindFieldByName(name);
    if (field == nullptr) field = type->FindFieldByCamelcaseName(name);
    if (field == nullptr) return nullptr;
    json_path->push_back(field->json_name());
    type = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE ? field->message_type() : nullptr;
    i = j + 1;
  }
  return field;
}

json* Slot(json& doc, const std::vector<std::string>& json_path) {
  json* at = &doc;
  for (const auto& key : json_path) {
    if (!at->is_object()) *at = json::object();
    at = &(*at)[key];
  }
  return at;
}

// A query or path value as JSON for its field: booleans as literals,
// everything else as a string, which proto3 JSON reads for numbers, enums,
// bytes, timestamps and durations alike.
json ScalarValue(const pb::FieldDescriptor* field, const std::string& text) {
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL) {
    if (text.empty() || text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
  }
  return text;
}

}  // namespace

grpc::Status BuildRequest(const RouteMatch& match, const std::string& body,
                          const std::multimap<std::string, std::string>& query, const JsonOptions& options,
                          pb::Message* request) {
  const auto* type = request->GetDescriptor();
  const Route& route = *match.route;
  json doc = json::object();
  bool has_body = !route.body.empty() && body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (has_body) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return {grpc::StatusCode::INVALID_ARGUMENT, "request body is not valid JSON"};
    if (route.body == "*") {
      if (!parsed.is_object()) return {grpc::StatusCode::INVALID_ARGUMENT, "request body must be a JSON object"};
      doc = std::move(parsed);
    } else {
      std::vector<std::string> path;
      if (Resolve(type, route.body, &path) == nullptr)
        return {grpc::StatusCode::INTERNAL, "route body field " + route.body + " unknown"};
      *Slot(doc, path) = std::move(parsed);
    }
  }
  if (route.body != "*") {
    for (const auto& [key, value] : query) {
      std::vector<std::string> path;
      const auto* field = Resolve(type, key, &path);
      if (field == nullptr || field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        // Well-known scalar wrappers (Timestamp, Duration) take strings; other
        // messages cannot come from a query string.
        if (field == nullptr || field->message_type()->file()->package() != "google.protobuf") continue;
      }
      json* slot = Slot(doc, path);
      if (field->is_repeated()) {
        if (!slot->is_array()) *slot = json::array();
        slot->push_back(ScalarValue(field, value));
      } else {
        *slot = ScalarValue(field, value);
      }
    }
  }
  for (const auto& [field_path, value] : match.variables) {
    std::vector<std::string> path;
    const auto* field = Resolve(type, field_path, &path);
    if (field == nullptr) return {grpc::StatusCode::INTERNAL, "route variable " + field_path + " unknown"};
    *Slot(doc, path) = ScalarValue(field, value);
  }
  if (options.payload_shorthand) PayloadsFromShorthand(doc, type);
  pb::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  auto st = pb::util::JsonStringToMessage(doc.dump(), request, parse_options);
  if (!st.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, std::string(st.message())};
  return grpc::Status::OK;
}

std::string MessageToJson(const pb::Message& message, const JsonOptions& options) {
  std::string out;
  pb::util::JsonPrintOptions print_options;
  if (!pb::util::MessageToJsonString(message, &out, print_options).ok()) return "{}";
  if (!options.payload_shorthand && !options.pretty) return out;
  json doc = json::parse(out, nullptr, false);
  if (doc.is_discarded()) return out;
  if (options.payload_shorthand) PayloadsToShorthand(doc, message.GetDescriptor());
  return doc.dump(options.pretty ? 2 : -1);
}

std::string StatusToJson(const grpc::Status& status, const JsonOptions& options) {
  kairos::records::RpcStatus rpc;
  if (status.error_details().empty() || !rpc.ParseFromString(status.error_details())) {
    rpc.Clear();
    rpc.set_code(static_cast<int>(status.error_code()));
    rpc.set_message(status.error_message());
  }
  // Details carry no payloads worth rewriting; Temporal writes them plainly.
  JsonOptions plain = options;
  plain.payload_shorthand = false;
  return MessageToJson(rpc, plain);
}

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    default: return 500;
  }
}

}  // namespace kairos::http
