#include "kairos/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace kairos::metrics {
namespace {

void AppendNumber(std::string& out, double v) {
  // The shortest text that reads back as the same double (0.03, not
  // 0.029999999999999999), as Prometheus clients print.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

}  // namespace

Histogram::Histogram(const Config& config)
    : config_(config), buckets_(std::make_unique<std::atomic<uint64_t>[]>(config.bounds.size() + 1)) {}

void Histogram::Observe(uint64_t v) {
  const auto& b = config_.bounds;
  size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Config LatencyBuckets() {
  Histogram::Config c;
  c.divisor = 1e9;
  for (uint64_t decade = 1'000'000; decade <= 1'000'000'000'000ULL; decade *= 10) {
    for (uint64_t m : {1, 2, 5}) {
      if (decade * m > 1'000'000'000'000ULL) break;
      c.bounds.push_back(decade * m);
    }
  }
  return c;
}

Histogram::Config ByteBuckets() {
  Histogram::Config c;
  for (uint64_t b = 1024; b <= 64ULL * 1024 * 1024; b *= 4) c.bounds.push_back(b);
  return c;
}

Histogram::Config CountBuckets() {
  Histogram::Config c;
  for (uint64_t b = 1; b <= 1024; b *= 2) c.bounds.push_back(b);
  return c;
}

namespace detail {

uint64_t HashLabels(const std::string_view* values, size_t n) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (size_t i = 0; i < n; ++i) {
    for (char c : values[i]) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;  // Separates ("ab","c") from ("a","bc").
  }
  return h;
}

void AppendSeriesName(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                      const std::vector<std::string>& values, std::string_view extra) {
  out += name;
  if (keys.empty() && extra.empty()) return;
  out += '{';
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ',';
    out += keys[i];
    out += "=\"";
    AppendEscaped(out, i < values.size() ? values[i] : std::string_view{});
    out += '"';
  }
  if (!extra.empty()) {
    if (!keys.empty()) out += ',';
    out += extra;
  }
  out += '}';
}

void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Counter& m) {
  AppendSeriesName(out, name, keys, values);
  out += ' ';
  out += std::to_string(m.value());
  out += '\n';
}

void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Gauge& m) {
  AppendSeriesName(out, name, keys, values);
  out += ' ';
  AppendNumber(out, m.value());
  out += '\n';
}

void AppendSeries(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, const Histogram& m) {
  const auto& c = m.config();
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  // Read buckets before the count so that +Inf never exceeds _count by much
  // under concurrent updates; +Inf is the sum of the buckets read.
  for (size_t i = 0; i <= c.bounds.size(); ++i) {
    cumulative += m.bucket(i);
    std::string le = "le=\"";
    if (i < c.bounds.size()) {
      std::string v;
      AppendNumber(v, static_cast<double>(c.bounds[i]) / c.divisor);
      le += v;
    } else {
      le += "+Inf";
    }
    le += '"';
    AppendSeriesName(out, bucket, keys, values, le);
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  }
  AppendSeriesName(out, std::string(name) + "_sum", keys, values);
  out += ' ';
  AppendNumber(out, static_cast<double>(m.sum()) / c.divisor);
  out += '\n';
  AppendSeriesName(out, std::string(name) + "_count", keys, values);
  out += ' ';
  out += std::to_string(cumulative);
  out += '\n';
}

const char* TypeName(const Counter*) { return "counter"; }
const char* TypeName(const Gauge*) { return "gauge"; }
const char* TypeName(const Histogram*) { return "histogram"; }

}  // namespace detail

template <class T>
Family<T>* Registry::Add(const std::string& name, const std::string& help, std::vector<std::string> labels,
                         typename T::Config config) {
  std::lock_guard lock(mu_);
  auto& slot = families_[name];
  if (!slot) slot = std::make_unique<Family<T>>(name, help, std::move(labels), std::move(config));
  auto* f = dynamic_cast<Family<T>*>(slot.get());
  if (f == nullptr) throw std::logic_error("metric " + name + " registered with two types");
  return f;
}

Family<Counter>* Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> labels) {
  return Add<Counter>(name, help, std::move(labels), {});
}

Family<Gauge>* Registry::AddGauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return Add<Gauge>(name, help, std::move(labels), {});
}

Family<Histogram>* Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> labels, Histogram::Config config) {
  return Add<Histogram>(name, help, std::move(labels), std::move(config));
}

Registry::HookHandle Registry::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mu_);
  uint64_t id = next_hook_++;
  hooks_.emplace(id, std::move(hook));
  return HookHandle(this, id);
}

void Registry::RemoveHook(uint64_t id) {
  std::lock_guard lock(hooks_mu_);
  hooks_.erase(id);
}

Registry::HookHandle& Registry::HookHandle::operator=(HookHandle&& o) noexcept {
  if (this != &o) {
    if (registry_ != nullptr) registry_->RemoveHook(id_);
    registry_ = std::exchange(o.registry_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

Registry::HookHandle::~HookHandle() {
  if (registry_ != nullptr) registry_->RemoveHook(id_);
}

std::string Registry::Render() {
  {
    std::lock_guard lock(hooks_mu_);
    for (auto& [id, hook] : hooks_) hook();
  }
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) family->Render(out);
  return out;
}

}  // namespace kairos::metrics
