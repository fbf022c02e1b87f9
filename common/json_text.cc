#include "kairos/json_text.h"

#include <cstdio>

namespace kairos {

void AppendJsonString(std::string_view s, std::string* json) {
  *json += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      *json += '\\';
      *json += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      *json += buf;
    } else {
      *json += static_cast<char>(c);
    }
  }
  *json += '"';
}

}  // namespace kairos
