// The official Temporal Web UI (built assets of github.com/temporalio/ui-server/v2,
// ui/assets/local, at the pinned version), compiled into the binary.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kairos::webui {

struct Asset {
  std::string_view body;
  std::string content_type;
  std::string cache_control;  // Content-hashed files are immutable; the rest revalidate.
};

// The asset at an absolute URL path ("/index.html", "/_app/..."); nullopt when
// there is none (the caller falls back to index.html for the UI's routes).
std::optional<Asset> Find(std::string_view path);

// The UI release compiled in ("2.54.1"), as /api/v1/settings reports it.
std::string_view Version();

}  // namespace kairos::webui
