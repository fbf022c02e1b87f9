#include "kairos/persistence/recent_events.h"

#include <algorithm>

namespace kairos::persistence {
namespace {

// One run may hold at most this share of the cache, so that a workflow with
// a long history keeps its newest events without pushing every other run out.
constexpr size_t kRunShareDivisor = 16;

}  // namespace

RecentEvents::RecentEvents(size_t max_bytes) : max_bytes_(max_bytes) {}

std::string RecentEvents::KeyOf(const ExecutionKey& key) {
  std::string k;
  k.reserve(key.namespace_id.size() + key.workflow_id.size() + key.run_id.size() + 2);
  k.append(key.namespace_id).push_back('\0');
  k.append(key.workflow_id).push_back('\0');
  k.append(key.run_id);
  return k;
}

void RecentEvents::Remember(const WriteBatch& batch) {
  if (max_bytes_ == 0) return;
  std::lock_guard lock(mu_);
  for (const auto& e : batch.events) Append(KeyOf(e.key), e.event_id, e.event);
  for (const auto& key : batch.execution_deletes) Forget(KeyOf(key));
  Shrink();
}

void RecentEvents::Append(const std::string& key, int64_t event_id, const std::string& event) {
  auto [it, inserted] = runs_.try_emplace(key);
  Run& run = it->second;
  if (inserted) {
    lru_.push_front(key);
    run.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, run.lru);
  }
  if (!run.events.empty() && run.first_event_id + static_cast<int64_t>(run.events.size()) != event_id) {
    // Not the next event of the held range (a gap, or a run written again
    // from its start): the range starts over here.
    bytes_ -= run.bytes;
    run.bytes = 0;
    run.events.clear();
  }
  if (run.events.empty()) run.first_event_id = event_id;
  run.events.push_back(event);
  run.bytes += event.size();
  bytes_ += event.size();
  size_t run_limit = std::max<size_t>(max_bytes_ / kRunShareDivisor, 1);
  while (run.bytes > run_limit && run.events.size() > 1) {
    run.bytes -= run.events.front().size();
    bytes_ -= run.events.front().size();
    run.events.pop_front();
    ++run.first_event_id;
  }
}

void RecentEvents::Forget(const std::string& key) {
  auto it = runs_.find(key);
  if (it == runs_.end()) return;
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  runs_.erase(it);
}

void RecentEvents::Shrink() {
  while (bytes_ > max_bytes_ && !lru_.empty()) Forget(lru_.back());
}

bool RecentEvents::Read(const ExecutionKey& key, int64_t first_event_id, int64_t next_event_id, int max_count,
                        std::vector<std::string>* out) {
  if (max_bytes_ == 0 || max_count <= 0 || first_event_id >= next_event_id) return false;
  std::lock_guard lock(mu_);
  auto it = runs_.find(KeyOf(key));
  if (it == runs_.end()) return false;
  const Run& run = it->second;
  int64_t held_end = run.first_event_id + static_cast<int64_t>(run.events.size());
  int64_t end = std::min(next_event_id, first_event_id + max_count);
  if (first_event_id < run.first_event_id || end > held_end) return false;
  out->clear();
  out->reserve(static_cast<size_t>(end - first_event_id));
  for (int64_t id = first_event_id; id < end; ++id)
    out->push_back(run.events[static_cast<size_t>(id - run.first_event_id)]);
  return true;
}

size_t RecentEvents::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace kairos::persistence
