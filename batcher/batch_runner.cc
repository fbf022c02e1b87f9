// The thread that works through running batches: one execution at a time,
// each batch at its own rate, progress committed after every execution.
// Operations go through history exactly as a client's would; an execution
// that no longer exists or has already closed counts as done.
#include <spdlog/spdlog.h>

#include "batch_engine.h"
#include "kairos/errors.h"
#include "kairos/time_util.h"

namespace kairos::batcher {
namespace {

using SteadyClock = std::chrono::steady_clock;

bool Running(const records::BatchOperationRecord& rec) { return rec.state() == enums::BATCH_OPERATION_STATE_RUNNING; }

SteadyClock::duration Interval(const records::BatchOperationRecord& rec) {
  double rate = rec.request().max_operations_per_second();
  if (rate <= 0) rate = kDefaultOperationsPerSecond;
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(1.0 / rate));
}

// A request id per batch and run: a signal or cancel repeated after a crash
// is recognised as the same request.
std::string RequestId(const records::BatchOperationRecord& rec, const common::WorkflowExecution& e) {
  return "batch-" + rec.request().job_id() + "-" + e.workflow_id() + "-" + e.run_id();
}

}  // namespace

void BatchEngine::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<Key> running;
    for (const auto& [key, rec] : batches_)
      if (Running(rec)) running.push_back(key);
    if (running.empty()) {
      cv_.wait(lock);
      continue;
    }
    // Round robin: one execution of each running batch per turn.
    for (const auto& key : running) {
      if (stopping_) break;
      lock.unlock();
      bool paced = Pace(key);
      if (paced) Step(key);
      lock.lock();
    }
  }
}

bool BatchEngine::Pace(const Key& key) {
  std::unique_lock lock(mu_);
  auto it = batches_.find(key);
  if (it == batches_.end() || !Running(it->second)) return false;
  auto now = SteadyClock::now();
  auto& slot = next_slot_[key];
  if (slot > now) {
    // Others may be due sooner; come back to this one on the next turn.
    cv_.wait_until(lock, slot, [&] { return stopping_; });
    if (stopping_) return false;
  }
  slot = std::max(slot, now) + Interval(it->second);
  return true;
}

grpc::Status BatchEngine::FetchPage(const records::BatchOperationRecord& rec, std::vector<common::WorkflowExecution>* page,
                                    std::string* next_token) {
  wsv1::ListWorkflowExecutionsRequest list;
  list.set_namespace_(rec.namespace_name());
  list.set_query(rec.query());
  list.set_page_size(kPageSize);
  list.set_next_page_token(rec.page_token());
  wsv1::ListWorkflowExecutionsResponse resp;
  if (auto st = visibility_->List(rec.namespace_id(), list, &resp); !st.ok()) return st;
  std::set<std::string> done(rec.page_done_run_ids().begin(), rec.page_done_run_ids().end());
  for (const auto& info : resp.executions())
    if (!done.contains(info.execution().run_id())) page->push_back(info.execution());
  *next_token = resp.next_page_token();
  return grpc::Status::OK;
}

bool BatchEngine::Step(const Key& key) {
  records::BatchOperationRecord rec;
  std::optional<common::WorkflowExecution> target;
  {
    std::lock_guard lock(mu_);
    auto it = batches_.find(key);
    if (it == batches_.end() || !Running(it->second)) return false;
    rec = it->second;
  }
  const bool by_query = !rec.query().empty();
  if (by_query) {
    std::unique_lock lock(mu_);
    auto& page = pages_[key];
    if (page.empty()) {
      // The page the cursor names, less the runs already done from it.
      std::string next;
      std::vector<common::WorkflowExecution> fetched;
      lock.unlock();
      auto st = FetchPage(rec, &fetched, &next);
      lock.lock();
      if (!st.ok()) {
        spdlog::warn("batch {}: listing its executions failed: {}", key.second, st.error_message());
        return false;
      }
      if (fetched.empty() && !next.empty()) {
        // Everything on this page is done: move the cursor on.
        rec.set_page_token(next);
        rec.clear_page_done_run_ids();
        if (Persist(rec).ok()) batches_[key] = rec;
        return true;
      }
      pages_[key] = std::move(fetched);
      page_next_tokens_[key] = next;
    }
    auto& current = pages_[key];
    if (!current.empty()) {
      target = current.front();
      current.erase(current.begin());
    }
  } else if (rec.next_execution() < rec.executions_size()) {
    target = rec.executions(rec.next_execution());
  }

  if (!target) {
    rec.set_state(enums::BATCH_OPERATION_STATE_COMPLETED);
    rec.set_close_time_nanos(NowNanos());
  } else {
    auto st = Apply(rec, *target);
    bool done = st.ok() || st.error_code() == grpc::StatusCode::NOT_FOUND;
    if (done) rec.set_complete_operation_count(rec.complete_operation_count() + 1);
    else rec.set_failure_operation_count(rec.failure_operation_count() + 1);
    if (!done) spdlog::info("batch {}: {} failed: {}", key.second, target->workflow_id(), st.error_message());
    if (by_query) {
      rec.add_page_done_run_ids(target->run_id());
    } else {
      rec.set_next_execution(rec.next_execution() + 1);
    }
  }
  std::lock_guard lock(mu_);
  auto it = batches_.find(key);
  // Stopped meanwhile: the stop wins.
  if (it == batches_.end() || !Running(it->second)) return false;
  if (by_query && target && pages_[key].empty()) {
    // The page is finished: the cursor moves to the next one (or the batch
    // completes on the next step when there is none).
    const auto& next = page_next_tokens_[key];
    if (next.empty()) {
      rec.set_state(enums::BATCH_OPERATION_STATE_COMPLETED);
      rec.set_close_time_nanos(NowNanos());
    } else {
      rec.set_page_token(next);
      rec.clear_page_done_run_ids();
    }
  }
  if (auto st = Persist(rec); !st.ok()) {
    spdlog::warn("batch {}: saving its progress failed: {}", key.second, st.error_message());
    pages_.erase(key);
    return false;
  }
  it->second = rec;
  if (!Running(rec)) {
    pages_.erase(key);
    page_next_tokens_.erase(key);
    next_slot_.erase(key);
  }
  return true;
}

grpc::Status BatchEngine::Apply(const records::BatchOperationRecord& rec, const common::WorkflowExecution& execution) {
  const auto& req = rec.request();
  NamespaceRef ns{rec.namespace_id(), rec.namespace_name()};
  switch (req.operation_case()) {
    case wsv1::StartBatchOperationRequest::kTerminationOperation: {
      wsv1::TerminateWorkflowExecutionRequest r;
      r.set_namespace_(ns.name);
      *r.mutable_workflow_execution() = execution;
      r.set_reason(req.reason());
      *r.mutable_details() = req.termination_operation().details();
      r.set_identity(req.termination_operation().identity());
      return history_->TerminateWorkflowExecution(ns, r);
    }
    case wsv1::StartBatchOperationRequest::kCancellationOperation: {
      wsv1::RequestCancelWorkflowExecutionRequest r;
      r.set_namespace_(ns.name);
      *r.mutable_workflow_execution() = execution;
      r.set_reason(req.reason());
      r.set_identity(req.cancellation_operation().identity());
      r.set_request_id(RequestId(rec, execution));
      return history_->RequestCancelWorkflowExecution(ns, r);
    }
    case wsv1::StartBatchOperationRequest::kSignalOperation: {
      wsv1::SignalWorkflowExecutionRequest r;
      r.set_namespace_(ns.name);
      *r.mutable_workflow_execution() = execution;
      const auto& op = req.signal_operation();
      r.set_signal_name(op.signal());
      if (op.has_input()) *r.mutable_input() = op.input();
      if (op.has_header()) *r.mutable_header() = op.header();
      r.set_identity(op.identity());
      r.set_request_id(RequestId(rec, execution));
      wsv1::SignalWorkflowExecutionResponse ignored;
      return history_->SignalWorkflowExecution(ns, r, &ignored);
    }
    case wsv1::StartBatchOperationRequest::kDeletionOperation: {
      wsv1::DeleteWorkflowExecutionRequest r;
      r.set_namespace_(ns.name);
      *r.mutable_workflow_execution() = execution;
      return history_->DeleteWorkflowExecution(ns, r);
    }
    default:
      return errors::Unimplemented(req.GetDescriptor()->name());
  }
}

}  // namespace kairos::batcher
