// One row's best-first frontier in beam search (moe/client/beam_search.h): prefixes of the grid
// whose contents are not expanded yet, valued by an upper bound on every expert below them, and
// experts found alive, valued by their score. The top is what the search must look at next.
//
// Scores and bounds are float sums taken left to right over the grid's dimensions, a prefix
// using the row's best score for each dimension it does not fix. Float addition is monotonic in
// each operand, so a prefix's bound is never below the score of an expert under it, and an
// expert at the top scores at least as much as every expert still hidden below a prefix.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "moe/client/prefix_contents.h"

namespace hive::moe {

struct FrontierEntry {
  float bound = 0.0f;           // an expert's score; a prefix's upper bound
  std::vector<int64_t> coords;  // the indices the entry fixes
  std::shared_ptr<const ExpertLocation> expert;  // set: an alive expert; null: a prefix
};

class BeamFrontier {
 public:
  // row: one score per column, sum(grid) of them; `grid` must outlive the frontier. Starts with
  // every prefix of the first dimension.
  BeamFrontier(std::span<const float> row, std::span<const int64_t> grid);

  bool empty() const { return heap_.empty(); }
  // The highest value first; on a tie a prefix before an expert (it may hide an expert of the
  // same score with a smaller uid), then the smaller coordinates.
  const FrontierEntry& top() const { return heap_.front(); }
  FrontierEntry pop();
  void push(FrontierEntry entry);
  // Replaces `prefix` (already popped) by its alive children.
  void expand(const FrontierEntry& prefix, const PrefixContents& contents);

 private:
  struct Below {
    bool operator()(const FrontierEntry& a, const FrontierEntry& b) const;
  };

  // The sum over dimensions of coords' scores, and of the best scores past coords.
  float bound_of(std::span<const int64_t> coords) const;

  std::span<const float> row_;
  std::span<const int64_t> grid_;
  std::vector<int64_t> offsets_;  // the row's first column of each dimension
  std::vector<float> best_;       // the row's best score in each dimension
  std::vector<FrontierEntry> heap_;  // a max-heap under Below
};

}  // namespace hive::moe
