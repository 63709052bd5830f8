// Parsing of the --grid option: "8x8" -> {8, 8}, "4x4x2" -> {4, 4, 2}.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hive::tools {

// Throws hive::Error naming the text unless it is positive integers joined by 'x'.
std::vector<int64_t> parse_grid(const std::string& text);
int64_t grid_size(const std::vector<int64_t>& grid);  // number of experts

}  // namespace hive::tools
