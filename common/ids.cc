#include "kairos/ids.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace kairos {
namespace {

uint64_t RandomBits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// Canonical form of the 128 bits hi:lo, with the RFC 9562 variant set.
std::string Format(uint64_t hi, uint64_t lo) {
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

}  // namespace

std::string NewUuid() {
  uint64_t hi = (RandomBits() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  return Format(hi, RandomBits());
}

std::string NewUuidV7() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  uint64_t hi = (static_cast<uint64_t>(ms.count()) << 16) | 0x7000ULL | (RandomBits() & 0x0fffULL);  // version 7
  return Format(hi, RandomBits());
}

}  // namespace kairos
