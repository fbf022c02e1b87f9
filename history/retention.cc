#include "kairos/history/retention.h"

#include <spdlog/spdlog.h>

#include "kairos/history/history_service.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/time_util.h"

namespace kairos::history {
namespace {
// After a pass that hit its bound, the next one starts after this pause, so
// that a backlog drains steadily without monopolizing the store's writer.
constexpr auto kBacklogPause = std::chrono::milliseconds(20);
}  // namespace

RetentionWorker::RetentionWorker(HistoryService* history, Namespaces namespaces, RetentionOptions options)
    : history_(history), namespaces_(std::move(namespaces)), options_(options) {}

RetentionWorker::~RetentionWorker() { Stop(); }

void RetentionWorker::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RetentionWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int RetentionWorker::RunPass(int64_t now_nanos) {
  int deleted = 0;
  for (const auto& ns : namespaces_()) {
    int64_t retention_ms = options_.override_ms > 0 ? options_.override_ms : ns.retention_ms;
    if (retention_ms <= 0) continue;
    int64_t cutoff = now_nanos - retention_ms * 1'000'000;
    deleted += history_->DeleteClosedRunsBefore(ns.namespace_id, cutoff, options_.batch);
    // The namespace's closed standalone Nexus operations go after the same retention.
    deleted += history_->DeleteClosedRunsBefore(StandaloneNexusNamespaceId(ns.namespace_id), cutoff, options_.batch);
  }
  return deleted;
}

void RetentionWorker::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    int deleted = RunPass(NowNanos());
    if (deleted > 0) spdlog::debug("retention: deleted {} closed runs", deleted);
    lock.lock();
    // A pass that deleted a full batch somewhere may have left more behind.
    auto wait = deleted >= options_.batch ? std::chrono::milliseconds(kBacklogPause) : options_.interval;
    cv_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

}  // namespace kairos::history
