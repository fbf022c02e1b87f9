// Prometheus metrics: counters, gauges and histograms held in atomics, grouped
// in families of labelled series, rendered in the text exposition format.
//
// The hot path is lock-free: a series is found through a fixed open-addressed
// table of atomic pointers (a mutex is taken only the first time a label set
// is seen), and updates are relaxed atomic adds. Series live as long as the
// registry, so callers may keep the pointers Get() returns.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kairos::metrics {

class Counter {
 public:
  struct Config {};
  explicit Counter(const Config&) {}
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  struct Config {};
  explicit Gauge(const Config&) {}
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations are integers in a base unit (nanoseconds, bytes, counts);
// `divisor` scales them for rendering (1e9 renders nanoseconds as seconds).
class Histogram {
 public:
  struct Config {
    std::vector<uint64_t> bounds;  // Upper bounds in the base unit, increasing.
    double divisor = 1;  // Renders value / divisor: 1e9 turns nanoseconds into seconds.
  };
  explicit Histogram(const Config& config);
  void Observe(uint64_t v);
  void ObserveDuration(std::chrono::nanoseconds d) { Observe(d.count() < 0 ? 0 : static_cast<uint64_t>(d.count())); }

  const Config& config() const { return config_; }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }  // Not cumulative.

 private:
  Config config_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // One per bound, plus +Inf.
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
};

// Temporal's latency buckets (1 ms .. 1000 s, 1-2-5), in nanoseconds.
Histogram::Config LatencyBuckets();
// Sizes in bytes: 1 KiB .. 64 MiB, powers of 4.
Histogram::Config ByteBuckets();
// Small counts: 1 .. 1024 by powers of 2.
Histogram::Config CountBuckets();

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> labels)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  virtual void Render(std::string& out) const = 0;

 protected:
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
};

namespace detail {
uint64_t HashLabels(const std::string_view* values, size_t n);
// `name{k="v",...,extra}` with Prometheus escaping of the values.
void AppendSeriesName(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                      const std::vector<std::string>& values, std::string_view extra = {});
void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Counter& m);
void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Gauge& m);
void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Histogram& m);
const char* TypeName(const Counter*);
const char* TypeName(const Gauge*);
const char* TypeName(const Histogram*);
}  // namespace detail

template <class T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels, typename T::Config config)
      : FamilyBase(std::move(name), std::move(help), std::move(labels)), config_(std::move(config)) {}

  // The series for these label values (one per label name, in order).
  T* Get(std::initializer_list<std::string_view> values) { return Get(values.begin(), values.size()); }
  T* Get(const std::string_view* values, size_t n) {
    uint64_t h = detail::HashLabels(values, n);
    for (size_t i = 0; i < kSlots; ++i) {
      Entry* e = slots_[(h + i) & (kSlots - 1)].load(std::memory_order_acquire);
      if (e == nullptr) break;
      if (e->hash == h && Equal(*e, values, n)) return &e->metric;
    }
    return Insert(h, values, n);
  }

  void Render(std::string& out) const override {
    std::lock_guard lock(mu_);
    if (entries_.empty()) return;
    out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " " + detail::TypeName(static_cast<T*>(nullptr)) +
           "\n";
    for (const auto& e : entries_) detail::AppendSeries(out, name_, labels_, e.values, e.metric);
  }

 private:
  static constexpr size_t kSlots = 512;  // Power of two; more label sets fall back to a locked search.
  struct Entry {
    Entry(uint64_t h, std::vector<std::string> v, const typename T::Config& c) : hash(h), values(std::move(v)), metric(c) {}
    uint64_t hash;
    std::vector<std::string> values;
    T metric;
  };
  static bool Equal(const Entry& e, const std::string_view* values, size_t n) {
    if (e.values.size() != n) return false;
    for (size_t i = 0; i < n; ++i)
      if (e.values[i] != values[i]) return false;
    return true;
  }
  T* Insert(uint64_t h, const std::string_view* values, size_t n) {
    std::lock_guard lock(mu_);
    for (auto& e : entries_)
      if (e.hash == h && Equal(e, values, n)) return &e.metric;
    auto& e = entries_.emplace_back(h, std::vector<std::string>(values, values + n), config_);
    for (size_t i = 0; i < kSlots; ++i) {
      auto& slot = slots_[(h + i) & (kSlots - 1)];
      if (slot.load(std::memory_order_relaxed) == nullptr) {
        slot.store(&e, std::memory_order_release);
        break;
      }
    }
    return &e.metric;
  }

  typename T::Config config_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // Stable addresses.
  std::array<std::atomic<Entry*>, kSlots> slots_{};
};

// Owns every family. Passed to the services that report (no global registry).
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The same name twice returns the same family (the labels must agree).
  Family<Counter>* AddCounter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Histogram>* AddHistogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                  Histogram::Config config);

  // A hook run before each scrape (e.g. sets gauges read from /proc). It is
  // removed when the returned handle is destroyed.
  class HookHandle {
   public:
    HookHandle() = default;
    HookHandle(Registry* r, uint64_t id) : registry_(r), id_(id) {}
    HookHandle(HookHandle&& o) noexcept : registry_(std::exchange(o.registry_, nullptr)), id_(o.id_) {}
    HookHandle& operator=(HookHandle&& o) noexcept;
    ~HookHandle();

   private:
    Registry* registry_ = nullptr;
    uint64_t id_ = 0;
  };
  [[nodiscard]] HookHandle AddScrapeHook(std::function<void()> hook);

  // The text exposition format (version 0.0.4), families sorted by name.
  std::string Render();

 private:
  template <class T>
  Family<T>* Add(const std::string& name, const std::string& help, std::vector<std::string> labels,
                 typename T::Config config);
  void RemoveHook(uint64_t id);

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  std::mutex hooks_mu_;  // Held while hooks run, so a hook is never removed mid-run.
  std::map<uint64_t, std::function<void()>> hooks_;
  uint64_t next_hook_ = 1;
};

}  // namespace kairos::metrics
