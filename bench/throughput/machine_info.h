// What the numbers of a run depend on besides hive: the CPU, the load other jobs put on it, the
// build and the BLAS kernels.
#pragma once

#include <nlohmann/json.hpp>

namespace hive::throughput {

// The 1, 5 and 15 minute load averages (what `uptime` prints).
nlohmann::json load_average();

// CPU model and cores, kernel, compiler, build type, OpenBLAS's kernels and threads, time (UTC).
nlohmann::json machine_info();

}  // namespace hive::throughput
