// Retention: a background thread that deletes closed runs once their
// namespace's retention has passed since they closed. Each pass deletes at
// most `batch` runs per namespace, one transaction per run, so that it
// never holds the writer for long; nothing of it is persisted, since the
// closed runs themselves (their close times) say what is due, so it picks
// up after a restart where it stopped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kairos::history {

class HistoryService;

struct NamespaceRetention {
  std::string namespace_id;
  int64_t retention_ms = 0;
};

struct RetentionOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(10)};  // Between passes that found nothing more.
  int batch = 500;                                              // Runs per namespace per pass.
  // For tests and benchmarks: replaces every namespace's retention (0: use
  // the namespace's own).
  int64_t override_ms = 0;
};

class RetentionWorker {
 public:
  using Namespaces = std::function<std::vector<NamespaceRetention>()>;

  RetentionWorker(HistoryService* history, Namespaces namespaces, RetentionOptions options);
  ~RetentionWorker();
  RetentionWorker(const RetentionWorker&) = delete;
  RetentionWorker& operator=(const RetentionWorker&) = delete;

  void Start();
  void Stop();
  // One pass over every namespace at `now_nanos`; returns the runs deleted.
  // Called by the thread, and by tests directly.
  int RunPass(int64_t now_nanos);

 private:
  void Loop();

  HistoryService* history_;
  Namespaces namespaces_;
  RetentionOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kairos::history
