#include "bench/throughput/machine_info.h"

#include <sys/utsname.h>

#include <cblas.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

namespace hive::throughput {
namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

nlohmann::json load_average() {
  double loads[3] = {0, 0, 0};
  if (::getloadavg(loads, 3) != 3) return nullptr;
  return {loads[0], loads[1], loads[2]};
}

nlohmann::json machine_info() {
  utsname system{};
  ::uname(&system);
  return {
      {"cpu_model", cpu_model()},
      {"logical_cores", std::thread::hardware_concurrency()},
      {"kernel", std::string(system.sysname) + " " + system.release},
      {"compiler", __VERSION__},
#ifdef NDEBUG
      {"build", "optimized (NDEBUG)"},
#else
      {"build", "debug (assertions on)"},
#endif
      {"openblas_corename", openblas_get_corename()},
      {"openblas_config", openblas_get_config()},
      {"when_utc", now_utc()},
  };
}

}  // namespace hive::throughput
