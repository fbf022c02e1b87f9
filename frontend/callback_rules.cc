#include "kairos/frontend/callback_rules.h"

#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

namespace kairos::frontend {
namespace {

constexpr char kSystemCallbackUrl[] = "temporal://system";
constexpr char kInternalCallbackUrl[] = "temporal://internal";

grpc::Status Invalid(const std::string& message) { return {grpc::StatusCode::INVALID_ARGUMENT, message}; }

// "host:*" as an anchored expression: * matches anything, the rest itself.
std::regex PatternToRegex(const std::string& pattern) {
  std::string expr = "^";
  for (char c : pattern) {
    if (c == '*') {
      expr += ".*";
    } else {
      if (!std::isalnum(static_cast<unsigned char>(c))) expr += '\\';
      expr += c;
    }
  }
  return std::regex(expr + "$");
}

bool ParseInt(const std::string& s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

CallbackRules CallbackRules::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values) {
  CallbackRules rules;
  for (const auto& [key, value] : values) {
    int64_t n = 0;
    if (key == "frontend.callbackURLMaxLength" && ParseInt(value, &n)) rules.url_max_length_ = static_cast<size_t>(n);
    if (key == "frontend.callbackHeaderMaxLength" && ParseInt(value, &n)) rules.header_max_size_ = static_cast<size_t>(n);
    if (key == "system.maxCallbacksPerWorkflow" && ParseInt(value, &n)) rules.max_callbacks_ = static_cast<int>(n);
    if (key != "callback.allowedAddresses" && key != "component.callbacks.allowedAddresses") continue;
    rules.rules_.clear();
    auto list = nlohmann::json::parse(value, nullptr, false);
    if (!list.is_array()) continue;
    for (const auto& entry : list) {
      if (!entry.is_object() || !entry.contains("Pattern") || !entry["Pattern"].is_string()) continue;
      std::string pattern = entry["Pattern"];
      if (pattern.empty()) continue;
      bool insecure = entry.contains("AllowInsecure") && entry["AllowInsecure"].is_boolean() && entry["AllowInsecure"];
      rules.rules_.push_back({PatternToRegex(pattern), insecure});
    }
  }
  return rules;
}

grpc::Status CallbackRules::ValidateUrl(const std::string& url) const {
  if (url == kSystemCallbackUrl || url == kInternalCallbackUrl) return grpc::Status::OK;
  size_t colon = url.find("://");
  std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return Invalid("invalid url: unknown scheme: " + url);
  std::string rest = url.substr(colon + 3);
  std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (host.empty()) return Invalid("invalid url: missing host");
  for (const auto& rule : rules_) {
    if (!std::regex_match(host, rule.host)) continue;
    if (rule.allow_insecure || scheme == "https") return grpc::Status::OK;
    return Invalid("invalid url: callback address does not allow insecure connections: " + url);
  }
  return Invalid("invalid url: url does not match any configured callback address: " + url);
}

grpc::Status CallbackRules::Validate(
    google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback>* callbacks) const {
  if (callbacks->size() > max_callbacks_)
    return Invalid("cannot attach more than " + std::to_string(max_callbacks_) + " callbacks to an execution");
  for (auto& cb : *callbacks) {
    if (cb.has_internal()) continue;
    if (!cb.has_nexus()) return {grpc::StatusCode::UNIMPLEMENTED, "unknown callback variant"};
    auto* nexus = cb.mutable_nexus();
    if (nexus->url().size() > url_max_length_)
      return Invalid("invalid url: url length longer than max length allowed of " + std::to_string(url_max_length_));
    if (auto st = ValidateUrl(nexus->url()); !st.ok()) return st;
    size_t size = 0;
    google::protobuf::Map<std::string, std::string> lower;
    for (const auto& [k, v] : nexus->header()) {
      size += k.size() + v.size();
      std::string name = k;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      lower[name] = v;
    }
    if (size > header_max_size_)
      return Invalid("invalid header: header size longer than max allowed size of " + std::to_string(header_max_size_));
    *nexus->mutable_header() = std::move(lower);
  }
  return grpc::Status::OK;
}

}  // namespace kairos::frontend
