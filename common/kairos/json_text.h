// Writing JSON text by hand where a document is small and its shape fixed
// (search-attribute payloads, the visibility row's attribute column).
#pragma once

#include <string>
#include <string_view>

namespace kairos {

// Appends `s` as a JSON string literal (quoted, with `"`, `\` and control
// characters escaped; other bytes, UTF-8 included, as they are).
void AppendJsonString(std::string_view s, std::string* json);

}  // namespace kairos
