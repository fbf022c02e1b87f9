// A fixed pool of threads that runs submitted closures in FIFO order.
//
// gRPC's callback threads must never block; RPC handlers hop onto this pool,
// where waiting for a group commit is fine.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kairos {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();  // Runs what is queued, then joins.
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Submit(std::function<void()> fn);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kairos
