// Small helpers that bridge gRPC callback handlers to the executor.
#pragma once

#include <functional>

#include <grpcpp/grpcpp.h>

#include "kairos/executor.h"

namespace kairos::frontend {

// Runs `fn` on the executor and finishes the call with its status.
inline grpc::ServerUnaryReactor* RunOnExecutor(grpc::CallbackServerContext* ctx, Executor* executor,
                                               std::function<grpc::Status()> fn) {
  auto* reactor = ctx->DefaultReactor();
  executor->Submit([reactor, fn = std::move(fn)] { reactor->Finish(fn()); });
  return reactor;
}

// A reactor for long polls: tells its owner when the client goes away.
// gRPC owns reactors by raw pointer and releases them in OnDone.
class LongPollReactor final : public grpc::ServerUnaryReactor {
 public:
  static LongPollReactor* Create() { return new LongPollReactor(); }  // Freed in OnDone.

  // `on_cancel` runs at most once, if the client cancels before Finish.
  void SetOnCancel(std::function<void()> on_cancel) {
    std::function<void()> run_now;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) run_now = std::move(on_cancel);
      else on_cancel_ = std::move(on_cancel);
    }
    if (run_now) run_now();
  }

  void OnCancel() override {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      fn = std::move(on_cancel_);
    }
    if (fn) fn();
  }

  void OnDone() override { delete this; }

 private:
  LongPollReactor() = default;
  std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> on_cancel_;
};

}  // namespace kairos::frontend
