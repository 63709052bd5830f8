#include "tools/hive/grid_option.h"

#include <charconv>

#include "engine/core/error.h"

namespace hive::tools {

std::vector<int64_t> parse_grid(const std::string& text) {
  std::vector<int64_t> grid;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find('x', begin), text.size());
    int64_t size = 0;
    const auto [stop, error] = std::from_chars(text.data() + begin, text.data() + end, size);
    HIVE_REQUIRE(error == std::errc() && stop == text.data() + end && end > begin && size > 0,
                 "--grid: '", text, "' is not a grid like 4x4 or 8x8x2 (positive sizes joined by x)");
    grid.push_back(size);
    begin = end + 1;
  }
  return grid;
}

int64_t grid_size(const std::vector<int64_t>& grid) {
  int64_t experts = 1;
  for (int64_t size : grid) experts *= size;
  return experts;
}

}  // namespace hive::tools
