#include "kairos/webui/assets.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>

// The packed files, from the build tree (see pack_ui_assets.sh and the
// CMakeLists): one read-only blob, and the index of what lies where.
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global kairos_webui_blob\n"
        "kairos_webui_blob:\n"
        ".incbin \"" KAIROS_WEBUI_BLOB "\"\n"
        ".byte 0\n"
        ".previous\n");
extern "C" const char kairos_webui_blob[];

namespace kairos::webui {
namespace {

struct Entry {
  const char* path;
  std::size_t offset;
  std::size_t size;
};

constexpr Entry kEntries[] = {
#include "ui_assets_index.inc"
};

std::string TypeOf(std::string_view path) {
  auto dot = path.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json") return "application/json";
  if (ext == "webmanifest") return "application/manifest+json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "txt" || ext == "md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

std::optional<Asset> Find(std::string_view path) {
  for (const auto& e : kEntries) {
    if (path != e.path) continue;
    Asset a{std::string_view(kairos_webui_blob + e.offset, e.size), TypeOf(path), "no-cache"};
    // SvelteKit puts content-hashed names under _app/immutable/.
    if (path.starts_with("/_app/immutable/")) a.cache_control = "public, max-age=31536000, immutable";
    return a;
  }
  return std::nullopt;
}

std::string_view Version() { return KAIROS_WEBUI_VERSION; }

}  // namespace kairos::webui
