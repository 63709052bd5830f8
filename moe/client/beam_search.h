// Beam search over the DHT: for each row of gating scores, the alive experts with the highest
// scores (hivemind's MoEBeamSearcher, made exact).
//
// An expert's score is the sum of its coordinates' scores, one per grid dimension. Servers
// announce which next indices are alive under every prefix (moe/uid/prefix_records.h), so the
// search walks the grid from the first dimension down: a prefix's best possible score is its
// own score plus the best score of every remaining dimension, an upper bound on every expert
// below it. The search expands prefixes best bound first (several per round, their DHT gets in
// parallel) and takes an expert only when its score is at least every remaining bound, so it
// returns exactly what an exhaustive search over the alive experts returns (ties broken by uid).
//
// Prefixes found empty are remembered as empty for negative_cache_ttl, and every prefix's
// alive indices for positive_cache_ttl, so the rows of a batch and the next batches share the
// DHT gets.
//
// Threads: find_best_experts may be called from several threads at once (a trainer with
// several batches in flight); never from the DHT endpoint's I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "engine/core/tensor.h"
#include "moe/client/prefix_contents.h"
#include "moe/protocol/expert_location.h"

namespace hive::moe {

struct BeamSearchOptions {
  // Short: a get that failed (a lost lookup) also reads as empty, and the experts it hid stay
  // hidden this long.
  std::chrono::milliseconds negative_cache_ttl{5000};
  std::chrono::milliseconds positive_cache_ttl{5000};
  // Prefixes whose DHT gets one round of the search issues together, at most.
  int64_t prefixes_per_round = 64;
};

struct FoundExpert {
  ExpertLocation location;
  float score = 0.0f;  // the sum of its coordinates' scores in the row
};

struct BeamSearchStats {
  uint64_t searches = 0;      // rows searched
  uint64_t dht_gets = 0;      // prefix records fetched from the DHT
  uint64_t cache_hits = 0;    // prefixes answered from the positive cache
  uint64_t negative_hits = 0; // prefixes known empty without a get
  uint64_t timed_out = 0;     // rows whose search the deadline cut short
};

class BeamSearch {
 public:
  // uid_prefix: "ffn" (no delimiter); grid: experts per dimension, e.g. {32, 32, 32}. Throws
  // hive::Error for an invalid prefix or grid.
  BeamSearch(dht::DhtRunner& dht, std::string uid_prefix, std::vector<int64_t> grid,
             BeamSearchOptions options = {});

  // dimension_scores: f32 [n, sum(grid)] on the CPU (grid[0] scores for dimension 0, then
  // grid[1] for dimension 1, ...). For each row, up to `count` alive experts, best first (ties
  // by uid). A row gets fewer when fewer experts are alive, or when `deadline` passes first:
  // then it gets the best of those found so far (stats().timed_out counts it).
  std::vector<std::vector<FoundExpert>> find_best_experts(
      const Tensor& dimension_scores, int64_t count,
      std::chrono::steady_clock::time_point deadline);

  const std::vector<int64_t>& grid() const { return grid_; }
  const std::string& uid_prefix() const { return uid_prefix_; }
  BeamSearchStats stats() const;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  // What one call knows of each prefix: from its own gets or the caches; empty when nothing is
  // alive below it.
  using Known = std::map<std::string, std::shared_ptr<const PrefixContents>>;
  struct RowSearch;
  struct CachedContents {
    SteadyTime expires;
    std::shared_ptr<const PrefixContents> contents;
  };

  void require_scores(const Tensor& dimension_scores, int64_t count) const;
  std::string prefix_key(const std::vector<int64_t>& coords) const;
  // The prefix's contents if this call or the caches know them, else null.
  std::shared_ptr<const PrefixContents> known_contents(const std::string& key, Known& known);
  // Takes entries off the row's frontier until it is done or its top is a prefix nobody knows;
  // then moves that prefix and the next unknown ones that could still matter to row.waiting.
  void advance(RowSearch& row, int64_t count, Known& known);
  // Gets the prefixes (key -> coordinates) in parallel, until `deadline`; what arrives goes to
  // `known` and the caches.
  void fetch(const std::map<std::string, std::vector<int64_t>>& prefixes, SteadyTime deadline,
             Known& known);
  void remember(const std::string& key, std::shared_ptr<const PrefixContents> contents);
  void drop_expired_locked(SteadyTime now);

  dht::DhtRunner& dht_;
  std::string uid_prefix_;
  std::vector<int64_t> grid_;
  BeamSearchOptions options_;

  mutable std::mutex mutex_;  // guards everything below
  std::map<std::string, CachedContents> positive_;  // prefixes with alive children
  std::map<std::string, SteadyTime> negative_;      // prefixes found empty, until when
  size_t cached_after_last_drop_ = 0;
  BeamSearchStats stats_;
};

}  // namespace hive::moe
