#include "kairos/nexus/callback_token.h"

#include <regex>

#include <absl/strings/escaping.h>
#include <nlohmann/json.hpp>

namespace kairos::nexus {
namespace {

// A dynamic config value as given: a YAML/JSON string may come quoted.
std::string Unquote(const std::string& v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) return v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

std::string EncodeCallbackToken(const records::NexusCallbackToken& token) {
  nlohmann::ordered_json j;
  j["v"] = 1;
  // Go's base64.URLEncoding: URL-safe, padded.
  std::string data = absl::WebSafeBase64Escape(token.SerializeAsString());
  while (data.size() % 4 != 0) data += '=';
  j["d"] = data;
  return j.dump();
}

std::optional<records::NexusCallbackToken> DecodeCallbackToken(const std::string& encoded) {
  auto j = nlohmann::json::parse(encoded, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto v = j.find("v");
  auto d = j.find("d");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != 1) return std::nullopt;
  if (d == j.end() || !d->is_string()) return std::nullopt;
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(d->get<std::string>(), &bytes)) return std::nullopt;
  records::NexusCallbackToken token;
  if (!token.ParseFromString(bytes)) return std::nullopt;
  if (token.namespace_id().empty() || token.workflow_id().empty() || token.run_id().empty() ||
      token.scheduled_event_id() <= 0)
    return std::nullopt;
  return token;
}

CallbackUrlConfig CallbackUrlConfig::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values,
                                                       std::string default_template) {
  CallbackUrlConfig c;
  c.url_template = std::move(default_template);
  for (const auto& [key, value] : values) {
    if (key == "component.nexusoperations.callback.endpoint.template") c.url_template = Unquote(value);
    if (key == "component.nexusoperations.useSystemCallbackURL") c.use_system_callback_url = Unquote(value) != "false";
  }
  return c;
}

std::optional<std::string> CallbackUrlConfig::Url(const std::string& namespace_name,
                                                  const std::string& namespace_id) const {
  if (url_template == "unset" || url_template.empty()) return std::nullopt;
  static const std::regex name(R"(\{\{\s*\.NamespaceName\s*\}\})"), id(R"(\{\{\s*\.NamespaceID\s*\}\})");
  return std::regex_replace(std::regex_replace(url_template, name, namespace_name), id, namespace_id);
}

}  // namespace kairos::nexus
