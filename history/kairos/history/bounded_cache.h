// A thread-safe LRU map from string keys to values, bounded in entries: the
// history engine's caches of committed state (run states, current runs).
// It only ever holds what is already durable, so an entry evicted or never
// loaded is read back from the store; correctness never depends on a hit.
//
// Two rules keep it from serving stale state:
//  - Put (after a commit, by the thread holding the workflow's lock) and
//    Erase are authoritative. Fill (after a miss read the store, possibly
//    without the workflow's lock) inserts only when no Put or Erase touched
//    the key since the reader took its Ticket, so a slow reader never
//    installs a state older than one committed meanwhile.
//  - Eviction skips entries still in use (the `in_use` predicate: a state
//    whose pointer a caller holds while it works on the run); the cache may
//    exceed its capacity until they are released.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace kairos::history {

template <class V>
class BoundedCache {
 public:
  using InUse = bool (*)(const V&);

  explicit BoundedCache(size_t capacity, InUse in_use = nullptr)
      : capacity_(capacity < 1 ? 1 : capacity), in_use_(in_use) {}
  BoundedCache(const BoundedCache&) = delete;
  BoundedCache& operator=(const BoundedCache&) = delete;

  // The value, marked most recently used; nullopt on a miss.
  std::optional<V> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  // Taken before reading the store on a miss; handed back to Fill.
  uint64_t Ticket(const std::string& key) {
    std::lock_guard lock(mu_);
    return generations_[Slot(key)];
  }

  // Caches what a miss read, unless the key was Put or Erased since `ticket`.
  void Fill(const std::string& key, V value, uint64_t ticket) {
    std::lock_guard lock(mu_);
    if (generations_[Slot(key)] != ticket || index_.contains(key)) return;
    InsertLocked(key, std::move(value));
  }

  // The committed value of `key`.
  void Put(const std::string& key, V value) {
    std::lock_guard lock(mu_);
    ++generations_[Slot(key)];
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    InsertLocked(key, std::move(value));
  }

  void Erase(const std::string& key) {
    std::lock_guard lock(mu_);
    ++generations_[Slot(key)];
    auto it = index_.find(key);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
  }

  size_t size() {
    std::lock_guard lock(mu_);
    return index_.size();
  }
  size_t capacity() const { return capacity_; }
  // Entries dropped to stay within the capacity, since construction.
  uint64_t evictions() {
    std::lock_guard lock(mu_);
    return evictions_;
  }

 private:
  // Eviction looks at this many of the least recently used entries at most,
  // so that many entries in use cannot make an insert slow.
  static constexpr int kEvictionScan = 16;
  static constexpr size_t kGenerationSlots = 4096;

  static size_t Slot(const std::string& key) { return std::hash<std::string>{}(key) % kGenerationSlots; }

  void InsertLocked(const std::string& key, V value) {
    lru_.emplace_front(key, std::move(value));
    auto inserted = lru_.begin();
    index_.emplace(key, inserted);
    for (int scanned = 0; index_.size() > capacity_ && scanned < kEvictionScan; ++scanned) {
      auto victim = std::prev(lru_.end());
      if (victim == inserted) break;  // Everything else is in use.
      if (in_use_ != nullptr && in_use_(victim->second)) {
        lru_.splice(lru_.begin(), lru_, victim);  // In use: recently used, in effect.
        continue;
      }
      index_.erase(victim->first);
      lru_.erase(victim);
      ++evictions_;
    }
  }

  const size_t capacity_;
  const InUse in_use_;
  std::mutex mu_;
  std::list<std::pair<std::string, V>> lru_;  // Most recently used first.
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
  // Bumped by Put and Erase of any key hashing to the slot (see Fill).
  std::array<uint64_t, kGenerationSlots> generations_{};
  uint64_t evictions_ = 0;
};

}  // namespace kairos::history
