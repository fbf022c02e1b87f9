#include "kairos/auth/api_keys.h"

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

namespace kairos::auth {
namespace {

std::string Digest(std::string_view key) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

}  // namespace

bool ApiKeys::Parse(std::string_view json, ApiKeys* out, std::string* error) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    *error = "not an API key file (an object with a \"keys\" array)";
    return false;
  }
  ApiKeys keys;
  int index = 0;
  for (const auto& entry : doc["keys"]) {
    std::string where = "keys[" + std::to_string(index++) + "]";
    if (!entry.is_object() || !entry.contains("key") || !entry["key"].is_string() ||
        entry["key"].get<std::string>().empty()) {
      *error = where + ": needs a non-empty string \"key\"";
      return false;
    }
    std::vector<std::string> permissions;
    if (auto p = entry.find("permissions"); p != entry.end()) {
      if (!p->is_array()) {
        *error = where + ": \"permissions\" must be a list of strings";
        return false;
      }
      for (const auto& s : *p) {
        if (!s.is_string()) {
          *error = where + ": \"permissions\" must be a list of strings";
          return false;
        }
        permissions.push_back(s.get<std::string>());
      }
    }
    std::string subject = entry.contains("subject") && entry["subject"].is_string()
                              ? entry["subject"].get<std::string>()
                              : "api-key:" + std::to_string(index - 1);
    if (!keys.by_digest_.emplace(Digest(entry["key"].get<std::string>()), MapPermissions(subject, permissions)).second) {
      *error = where + ": the same key is listed twice";
      return false;
    }
  }
  *out = std::move(keys);
  return true;
}


const Claims* ApiKeys::Find(std::string_view key) const {
  auto it = by_digest_.find(Digest(key));
  return it == by_digest_.end() ? nullptr : &it->second;
}

}  // namespace kairos::auth
