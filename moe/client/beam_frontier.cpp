#include "moe/client/beam_frontier.h"

#include <algorithm>

#include "moe/uid/prefix_records.h"

namespace hive::moe {

bool BeamFrontier::Below::operator()(const FrontierEntry& a, const FrontierEntry& b) const {
  if (a.bound != b.bound) return a.bound < b.bound;
  const bool a_is_expert = a.expert != nullptr;
  if (a_is_expert != (b.expert != nullptr)) return a_is_expert;
  return a.coords > b.coords;
}

BeamFrontier::BeamFrontier(std::span<const float> row, std::span<const int64_t> grid)
    : row_(row), grid_(grid) {
  int64_t offset = 0;
  for (const int64_t size : grid_) {
    offsets_.push_back(offset);
    best_.push_back(*std::max_element(row_.begin() + offset, row_.begin() + offset + size));
    offset += size;
  }
  for (int64_t index = 0; index < grid_[0]; ++index) {
    std::vector<int64_t> coords{index};
    const float bound = bound_of(coords);
    push(FrontierEntry{bound, std::move(coords), nullptr});
  }
}

FrontierEntry BeamFrontier::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), Below{});
  FrontierEntry entry = std::move(heap_.back());
  heap_.pop_back();
  return entry;
}

void BeamFrontier::push(FrontierEntry entry) {
  heap_.push_back(std::move(entry));
  std::push_heap(heap_.begin(), heap_.end(), Below{});
}

void BeamFrontier::expand(const FrontierEntry& prefix, const PrefixContents& contents) {
  for (const PrefixChild& child : contents) {
    std::vector<int64_t> coords = prefix.coords;
    if (child.index != kFlatExpertSubkey) coords.push_back(child.index);
    const float bound = bound_of(coords);
    push(FrontierEntry{bound, std::move(coords), child.expert});
  }
}

float BeamFrontier::bound_of(std::span<const int64_t> coords) const {
  float sum = 0.0f;
  for (size_t dim = 0; dim < grid_.size(); ++dim) {
    sum += dim < coords.size() ? row_[offsets_[dim] + coords[dim]] : best_[dim];
  }
  return sum;
}

}  // namespace hive::moe
