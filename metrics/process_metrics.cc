#include "kairos/metrics/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kairos::metrics {
namespace {

// Field n (1-based, as in proc(5)) of /proc/self/stat; the command name in
// parentheses may hold spaces, so fields are counted after its closing ')'.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  auto close = line.rfind(')');
  if (close == std::string::npos) return fields;
  fields = {"pid", "comm"};
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double Field(const std::vector<std::string>& f, size_t n) {
  return n <= f.size() ? std::strtod(f[n - 1].c_str(), nullptr) : 0;
}

double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessMetrics::ProcessMetrics(Registry* r)
    : cpu_seconds_(r->AddGauge("process_cpu_seconds_total", "User and system CPU time spent, in seconds")->Get({})),
      rss_bytes_(r->AddGauge("process_resident_memory_bytes", "Resident memory size in bytes")->Get({})),
      virtual_bytes_(r->AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes")->Get({})),
      threads_(r->AddGauge("process_threads", "Number of OS threads")->Get({})),
      open_fds_(r->AddGauge("process_open_fds", "Number of open file descriptors")->Get({})),
      start_time_(r->AddGauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds")
                      ->Get({})) {
  auto f = StatFields();
  start_time_->Set(BootTime() + Field(f, 22) / static_cast<double>(sysconf(_SC_CLK_TCK)));
  hook_ = r->AddScrapeHook([this] { Update(); });
}

void ProcessMetrics::Update() {
  auto f = StatFields();
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_seconds_->Set((Field(f, 14) + Field(f, 15)) / tick);  // utime + stime
  threads_->Set(Field(f, 20));
  virtual_bytes_->Set(Field(f, 23));
  rss_bytes_->Set(Field(f, 24) * static_cast<double>(sysconf(_SC_PAGESIZE)));
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++fds;
  open_fds_->Set(fds);
}

}  // namespace kairos::metrics
