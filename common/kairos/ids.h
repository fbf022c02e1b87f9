// Identifiers: random UUIDs (run ids, namespace ids, request ids).
#pragma once

#include <string>

namespace kairos {

// A random version-4 UUID in its canonical 36-character form.
std::string NewUuid();

// A version-7 UUID (millisecond Unix time, then random bits): run ids, as
// Temporal 1.32 issues them, so that they sort by creation time.
std::string NewUuidV7();

}  // namespace kairos
