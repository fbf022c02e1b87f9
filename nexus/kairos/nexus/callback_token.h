// The callback a Nexus operation's start request carries, so that the
// handler can report the operation's outcome: Temporal's callback token
// (`{"v":1,"d":"<base64url>"}` in the `Temporal-Callback-Token` callback
// header, its data naming the caller's run and operation) and the callback
// URL built from `component.nexusoperations.callback.endpoint.template`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kairos/records.pb.h"

namespace kairos::nexus {

inline constexpr char kCallbackTokenHeader[] = "Temporal-Callback-Token";

// Temporal's token form: version 1, the record as base64url (padded) data.
std::string EncodeCallbackToken(const records::NexusCallbackToken& token);
// The record of a token of that form; nullopt when the JSON, the version,
// the base64 or the record is not right, or it names no run.
std::optional<records::NexusCallbackToken> DecodeCallbackToken(const std::string& encoded);

// Temporal's component.nexusoperations.callback.endpoint.template and
// component.nexusoperations.useSystemCallbackURL.
struct CallbackUrlConfig {
  std::string url_template = "unset";  // "unset": operations to external endpoints cannot start.
  bool use_system_callback_url = true;  // Worker targets get temporal://system.

  // `default_template` is used when the dynamic config does not set one
  // (Kairos: its own HTTP port's /namespaces/{{.NamespaceName}}/nexus/callback).
  static CallbackUrlConfig FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values,
                                             std::string default_template);
  // The template with {{.NamespaceName}} and {{.NamespaceID}} filled in;
  // nullopt when it is "unset".
  std::optional<std::string> Url(const std::string& namespace_name, const std::string& namespace_id) const;
};

}  // namespace kairos::nexus
