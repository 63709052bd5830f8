// How many threads the CPU backend uses (OpenMP loops and OpenBLAS). Defaults to every core.
#pragma once

namespace hive {

void set_cpu_threads(int threads);  // threads >= 1
int cpu_threads();

}  // namespace hive
