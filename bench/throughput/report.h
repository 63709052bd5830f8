// What a run prints and records: hivemind's result lines (same fields, same wording), hive's
// extras (client startup, server batching, GFLOP/s against this machine's GEMM peak), and the
// JSON entry of the preset in bench/results/throughput_<device>.json.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bench/throughput/gemm_peak.h"
#include "bench/throughput/presets.h"
#include "bench/throughput/throughput_run.h"

namespace hive::throughput {

struct RunReport {
  Preset full;    // hivemind's parameters
  Preset run;     // what ran: `full` scaled
  double scale = 1;
  RunSettings settings{};
  RunResult result{};
  // Measured just before and just after the run: other jobs on the machine move it, so the
  // faster of the two is the peak the run is compared with.
  GemmPeak gemm_before{}, gemm_after{};
  nlohmann::json machine{};
  nlohmann::json load_before{}, load_after{};
};

// Seconds from the go signal to the last client's exit: the window hivemind divides by.
double processing_seconds(const RunResult& result);

// hivemind's log lines, then hive's extras, on stdout.
void print_report(const RunReport& report);

nlohmann::json to_json(const RunReport& report);

// Puts `entry` under presets.<name> of the JSON file at `path` (created when missing), keeping
// the other presets' entries; an error names the path when it cannot be read or written.
Status merge_into_file(const std::string& path, const std::string& device, const std::string& name,
                       const nlohmann::json& entry);

}  // namespace hive::throughput
