// The scheduler's RPCs, its table of schedules, and the thread that wakes
// them when they are due.
#include <spdlog/spdlog.h>

#include "kairos/errors.h"
#include "kairos/time_util.h"
#include "schedule_query.h"
#include "scheduler_engine.h"

namespace kairos::scheduler {
namespace {

namespace schedv1 = temporal::api::schedule::v1;

constexpr int kDefaultListPageSize = 1000;

// Temporal's conflict token: the counter as 8 big-endian bytes.
std::string Token(int64_t conflict_token) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, conflict_token >>= 8) out[i] = static_cast<char>(conflict_token & 0xff);
  return out;
}

// Each list entry carries fewer recent and future times than Describe.
constexpr int kListTimes = 5;

grpc::Status ScheduleNotFound() { return errors::NotFound("schedule not found"); }

grpc::Status ValidateSchedule(const schedv1::Schedule& s, ScheduleSpec* spec) {
  if (!s.action().has_start_workflow()) return errors::InvalidArgument("Schedule action is not set.");
  const auto& start = s.action().start_workflow();
  if (start.workflow_id().empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
  if (start.workflow_type().name().empty()) return errors::InvalidArgument("WorkflowType is not set on request.");
  if (start.task_queue().name().empty()) return errors::InvalidArgument("taskQueue is not set");
  std::string error;
  if (!ScheduleSpec::Compile(s.spec(), spec, &error)) return errors::InvalidArgument("Invalid schedule spec: " + error);
  return grpc::Status::OK;
}

}  // namespace

SchedulerEngine::SchedulerEngine(persistence::Store* store, history::HistoryService* history, Executor* executor)
    : store_(store), history_(history), executor_(executor) {}

SchedulerEngine::~SchedulerEngine() { Stop(); }

void SchedulerEngine::Start() {
  int64_t now = NowNanos();
  {
    std::lock_guard lock(mu_);
    for (auto& row : store_->LoadSchedules()) {
      ScheduleEntry e;
      std::string error;
      if (!e.rec.ParseFromString(row.record) || !ScheduleSpec::Compile(e.rec.schedule().spec(), &e.spec, &error)) {
        spdlog::error("schedule {} cannot be loaded: {}", row.schedule_id, error);
        continue;
      }
      // Due right away: it catches up on what passed while the server was down.
      e.wake_nanos = now;
      entries_.emplace(Key{row.namespace_id, row.schedule_id}, std::move(e));
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

void SchedulerEngine::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SchedulerEngine::Wake(const Key& key) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    it->second.wake_nanos = NowNanos();
  }
  cv_.notify_all();
}

void SchedulerEngine::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int64_t now = NowNanos();
    int64_t earliest = 0;
    for (auto& [key, e] : entries_) {
      if (e.wake_nanos == 0) continue;
      RunIfDue(key, e, now);
      if (e.wake_nanos != 0 && (earliest == 0 || e.wake_nanos < earliest)) earliest = e.wake_nanos;
    }
    if (earliest == 0) {
      cv_.wait(lock);
    } else {
      cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(earliest - NowNanos(), 0)));
    }
  }
}

void SchedulerEngine::RunIfDue(const Key& key, ScheduleEntry& e, int64_t now) {
  if (e.wake_nanos == 0 || e.wake_nanos > now) return;
  Process(e, now);
  WatchRunning(key, e);
  if (auto st = Persist(e); !st.ok()) {
    spdlog::error("schedule {}: {}", key.second, st.error_message());
    e.wake_nanos = now + 1'000'000'000;  // Try again shortly.
  }
}

grpc::Status SchedulerEngine::Persist(const ScheduleEntry& e) {
  persistence::WriteBatch batch;
  batch.schedule_upserts.push_back({e.rec.namespace_id(), e.rec.schedule_id(), e.rec.SerializeAsString()});
  return store_->Commit(std::move(batch));
}

grpc::Status SchedulerEngine::Replace(ScheduleEntry* e, ScheduleEntry changed, int64_t now) {
  // Due at once: the change may have made starts possible.
  changed.wake_nanos = now;
  if (auto st = Persist(changed); !st.ok()) return st;
  *e = std::move(changed);
  cv_.notify_all();
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::Find(const NamespaceRef& ns, const std::string& schedule_id, ScheduleEntry** out) {
  if (schedule_id.empty()) return errors::InvalidArgument("ScheduleId is not set on request.");
  auto it = entries_.find({ns.id, schedule_id});
  if (it == entries_.end()) return ScheduleNotFound();
  *out = &it->second;
  return grpc::Status::OK;
}

void SchedulerEngine::FillInfo(const ScheduleEntry& e, int64_t now, schedv1::ScheduleInfo* info) {
  *info = e.rec.info();
  info->set_buffer_size(e.rec.buffered_size());
  const auto& state = e.rec.schedule().state();
  int64_t limit = state.limited_actions() ? std::min<int64_t>(kFutureActionTimes, state.remaining_actions())
                                          : kFutureActionTimes;
  int64_t from = std::max(now, e.rec.processed_until_nanos());
  for (int64_t i = 0; i < limit; ++i) {
    auto next = e.spec.Next(from);
    if (!next) break;
    *info->add_future_action_times() = NanosToTimestamp(next->actual_nanos);
    from = next->nominal_nanos;
  }
}

grpc::Status SchedulerEngine::CreateSchedule(const NamespaceRef& ns, const wsv1::CreateScheduleRequest& req,
                                             wsv1::CreateScheduleResponse* resp) {
  if (req.schedule_id().empty()) return errors::InvalidArgument("ScheduleId is not set on request.");
  ScheduleEntry e;
  if (auto st = ValidateSchedule(req.schedule(), &e.spec); !st.ok()) return st;
  int64_t now = NowNanos();
  auto& rec = e.rec;
  rec.set_namespace_id(ns.id);
  rec.set_namespace_name(ns.name);
  rec.set_schedule_id(req.schedule_id());
  *rec.mutable_schedule() = req.schedule();
  *rec.mutable_schedule()->mutable_spec() = e.spec.normalized();
  if (req.has_memo()) *rec.mutable_memo() = req.memo();
  if (req.has_search_attributes()) *rec.mutable_search_attributes() = req.search_attributes();
  *rec.mutable_info()->mutable_create_time() = NanosToTimestamp(now);
  rec.set_conflict_token(1);
  rec.set_processed_until_nanos(now);
  std::lock_guard lock(mu_);
  Key key{ns.id, req.schedule_id()};
  if (entries_.contains(key)) {
    // The Go SDK turns this detail into temporal.ErrScheduleAlreadyRunning.
    return errors::WorkflowAlreadyStarted("schedule \"" + req.schedule_id() + "\" is already registered",
                                          req.request_id(), "");
  }
  if (req.has_initial_patch()) ApplyPatch(e, req.initial_patch(), now);
  e.wake_nanos = now;
  if (auto st = Persist(e); !st.ok()) return st;
  entries_.emplace(key, std::move(e));
  resp->set_conflict_token(Token(1));
  cv_.notify_all();
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::DescribeSchedule(const NamespaceRef& ns, const wsv1::DescribeScheduleRequest& req,
                                               wsv1::DescribeScheduleResponse* resp) {
  std::lock_guard lock(mu_);
  ScheduleEntry* e;
  if (auto st = Find(ns, req.schedule_id(), &e); !st.ok()) return st;
  // What is due now (a trigger or an update just made) is taken before the
  // answer, as Temporal's scheduler answers after its pending work.
  int64_t now = NowNanos();
  RunIfDue({ns.id, req.schedule_id()}, *e, now);
  *resp->mutable_schedule() = e->rec.schedule();
  FillInfo(*e, now, resp->mutable_info());
  if (e->rec.has_memo()) *resp->mutable_memo() = e->rec.memo();
  if (e->rec.has_search_attributes()) *resp->mutable_search_attributes() = e->rec.search_attributes();
  resp->set_conflict_token(Token(e->rec.conflict_token()));
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::UpdateSchedule(const NamespaceRef& ns, const wsv1::UpdateScheduleRequest& req,
                                             wsv1::UpdateScheduleResponse*) {
  ScheduleSpec spec;
  if (auto st = ValidateSchedule(req.schedule(), &spec); !st.ok()) return st;
  std::lock_guard lock(mu_);
  ScheduleEntry* e;
  if (auto st = Find(ns, req.schedule_id(), &e); !st.ok()) return st;
  if (!req.conflict_token().empty() && req.conflict_token() != Token(e->rec.conflict_token()))
    return errors::FailedPrecondition("mismatched conflict token");
  ScheduleEntry updated = *e;
  int64_t now = NowNanos();
  *updated.rec.mutable_schedule() = req.schedule();
  *updated.rec.mutable_schedule()->mutable_spec() = spec.normalized();
  updated.spec = std::move(spec);
  if (req.has_search_attributes()) *updated.rec.mutable_search_attributes() = req.search_attributes();
  *updated.rec.mutable_info()->mutable_update_time() = NanosToTimestamp(now);
  updated.rec.set_conflict_token(e->rec.conflict_token() + 1);
  // The new spec acts from now on, not on the times the old one passed.
  updated.rec.set_processed_until_nanos(std::max(now, e->rec.processed_until_nanos()));
  return Replace(e, std::move(updated), now);
}

grpc::Status SchedulerEngine::PatchSchedule(const NamespaceRef& ns, const wsv1::PatchScheduleRequest& req,
                                            wsv1::PatchScheduleResponse*) {
  std::lock_guard lock(mu_);
  ScheduleEntry* e;
  if (auto st = Find(ns, req.schedule_id(), &e); !st.ok()) return st;
  ScheduleEntry patched = *e;
  int64_t now = NowNanos();
  ApplyPatch(patched, req.patch(), now);
  *patched.rec.mutable_info()->mutable_update_time() = NanosToTimestamp(now);
  return Replace(e, std::move(patched), now);
}

grpc::Status SchedulerEngine::DeleteSchedule(const NamespaceRef& ns, const wsv1::DeleteScheduleRequest& req,
                                             wsv1::DeleteScheduleResponse*) {
  std::lock_guard lock(mu_);
  ScheduleEntry* e;
  if (auto st = Find(ns, req.schedule_id(), &e); !st.ok()) return st;
  persistence::WriteBatch batch;
  batch.schedule_deletes.emplace_back(ns.id, req.schedule_id());
  if (auto st = store_->Commit(std::move(batch)); !st.ok()) return st;
  entries_.erase({ns.id, req.schedule_id()});
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::ListSchedules(const NamespaceRef& ns, const wsv1::ListSchedulesRequest& req,
                                            wsv1::ListSchedulesResponse* resp) {
  visibility::ParsedQuery query;
  if (auto st = ParseScheduleQuery(req.query(), &query); !st.ok()) return st;
  int page = req.maximum_page_size() > 0 ? req.maximum_page_size() : kDefaultListPageSize;
  std::lock_guard lock(mu_);
  int64_t now = NowNanos();
  // Pages are keyed by the last schedule id, so they stay stable.
  auto it = entries_.upper_bound({ns.id, req.next_page_token()});
  if (req.next_page_token().empty()) it = entries_.lower_bound({ns.id, ""});
  for (; it != entries_.end() && it->first.first == ns.id; ++it) {
    if (resp->schedules_size() == page) {
      resp->set_next_page_token(resp->schedules(page - 1).schedule_id());
      break;
    }
    const auto& rec = it->second.rec;
    bool match = true;
    if (auto st = MatchesQuery(query, rec, &match); !st.ok()) return st;
    if (!match) continue;
    auto* entry = resp->add_schedules();
    entry->set_schedule_id(rec.schedule_id());
    if (rec.has_memo()) *entry->mutable_memo() = rec.memo();
    if (rec.has_search_attributes()) *entry->mutable_search_attributes() = rec.search_attributes();
    auto* info = entry->mutable_info();
    *info->mutable_spec() = rec.schedule().spec();
    *info->mutable_workflow_type() = rec.schedule().action().start_workflow().workflow_type();
    info->set_notes(rec.schedule().state().notes());
    info->set_paused(rec.schedule().state().paused());
    schedv1::ScheduleInfo full;
    FillInfo(it->second, now, &full);
    int recent = full.recent_actions_size();
    for (int i = std::max(0, recent - kListTimes); i < recent; ++i) *info->add_recent_actions() = full.recent_actions(i);
    for (int i = 0; i < std::min(kListTimes, full.future_action_times_size()); ++i)
      *info->add_future_action_times() = full.future_action_times(i);
  }
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::CountSchedules(const NamespaceRef& ns, const wsv1::CountSchedulesRequest& req,
                                             wsv1::CountSchedulesResponse* resp) {
  visibility::ParsedQuery query;
  if (auto st = ParseScheduleQuery(req.query(), &query); !st.ok()) return st;
  std::lock_guard lock(mu_);
  int64_t count = 0;
  for (auto it = entries_.lower_bound({ns.id, ""}); it != entries_.end() && it->first.first == ns.id; ++it) {
    bool match = true;
    if (auto st = MatchesQuery(query, it->second.rec, &match); !st.ok()) return st;
    count += match ? 1 : 0;
  }
  resp->set_count(count);
  return grpc::Status::OK;
}

grpc::Status SchedulerEngine::ListScheduleMatchingTimes(const NamespaceRef& ns,
                                                        const wsv1::ListScheduleMatchingTimesRequest& req,
                                                        wsv1::ListScheduleMatchingTimesResponse* resp) {
  std::lock_guard lock(mu_);
  ScheduleEntry* e;
  if (auto st = Find(ns, req.schedule_id(), &e); !st.ok()) return st;
  constexpr int kMaxTimes = 1000;
  // After start (exclusive), up to end (inclusive).
  int64_t from = TimestampToNanos(req.start_time());
  int64_t end = TimestampToNanos(req.end_time());
  for (int i = 0; i < kMaxTimes; ++i) {
    auto next = e->spec.Next(from);
    if (!next || next->nominal_nanos > end) break;
    *resp->add_start_time() = NanosToTimestamp(next->actual_nanos);
    from = next->nominal_nanos;
  }
  return grpc::Status::OK;
}

std::unique_ptr<SchedulerService> NewSchedulerService(persistence::Store* store, history::HistoryService* history,
                                                      Executor* executor) {
  return std::make_unique<SchedulerEngine>(store, history, executor);
}

}  // namespace kairos::scheduler
