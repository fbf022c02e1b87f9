// Identifiers: random UUIDs (run ids, namespace ids, request ids).
#pragma once

#include <string>

namespace kairos {

// A random version-4 UUID in its canonical 36-character form.
std::string NewUuid();

}  // namespace kairos
