#include "moe/client/beam_search.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <span>
#include <utility>

#include "engine/core/error.h"
#include "moe/client/beam_frontier.h"
#include "moe/uid/expert_uid.h"

namespace hive::moe {
namespace {

// Below this many cached prefixes, expired ones are dropped only when looked up.
constexpr size_t kCacheSizeBeforeDropping = 1024;

std::string grid_text(const std::vector<int64_t>& grid) {
  std::string text = "[";
  for (size_t i = 0; i < grid.size(); ++i) text += str_cat(i == 0 ? "" : ", ", grid[i]);
  return text + "]";
}

int64_t columns_of(const std::vector<int64_t>& grid) {
  int64_t columns = 0;
  for (const int64_t size : grid) columns += size;
  return columns;
}

}  // namespace

struct BeamSearch::RowSearch {
  struct Waiting {
    std::string key;
    FrontierEntry prefix;
  };

  BeamFrontier frontier;
  std::vector<FoundExpert> found;  // best first, final
  std::vector<Waiting> waiting;    // unknown prefixes, best first, for this round's gets
  bool done = false;

  void accept(const FrontierEntry& expert) { found.push_back({*expert.expert, expert.bound}); }
  // The deadline's answer: the experts this row found, best first, whatever may hide below
  // the prefixes it did not fetch.
  void take_best_found(int64_t count) {
    waiting.clear();
    while (static_cast<int64_t>(found.size()) < count && !frontier.empty()) {
      const FrontierEntry entry = frontier.pop();
      if (entry.expert) accept(entry);
    }
    done = true;
  }
};

BeamSearch::BeamSearch(dht::DhtRunner& dht, std::string uid_prefix, std::vector<int64_t> grid,
                       BeamSearchOptions options)
    : dht_(dht), uid_prefix_(std::move(uid_prefix)), grid_(std::move(grid)), options_(options) {
  HIVE_REQUIRE(!uid_prefix_.empty() && uid_prefix_.find(kUidDelimiter) == std::string::npos,
               "beam search: uid prefix '", uid_prefix_, "', expected a non-empty prefix without '",
               kUidDelimiter, "' (e.g. 'ffn')");
  HIVE_REQUIRE(!grid_.empty(), "beam search over '", uid_prefix_,
               "': the grid has no dimension, expected at least one");
  int64_t columns = 0;
  for (size_t dim = 0; dim < grid_.size(); ++dim) {
    HIVE_REQUIRE(grid_[dim] >= 1, "beam search over '", uid_prefix_, "': grid ",
                 grid_text(grid_), " has ", grid_[dim], " experts in dimension ", dim,
                 ", expected at least 1");
    HIVE_REQUIRE(grid_[dim] <= std::numeric_limits<int64_t>::max() - columns, "beam search over '",
                 uid_prefix_, "': grid ", grid_text(grid_), " has more columns than int64 holds");
    columns += grid_[dim];
  }
  HIVE_REQUIRE(options_.negative_cache_ttl.count() >= 0 && options_.positive_cache_ttl.count() >= 0,
               "beam search over '", uid_prefix_, "': cache lifetimes of ",
               options_.negative_cache_ttl.count(), " ms (negative) and ",
               options_.positive_cache_ttl.count(), " ms (positive), expected >= 0");
  HIVE_REQUIRE(options_.prefixes_per_round >= 1, "beam search over '", uid_prefix_, "': ",
               options_.prefixes_per_round, " prefixes per round, expected at least 1");
}

std::vector<std::vector<FoundExpert>> BeamSearch::find_best_experts(
    const Tensor& dimension_scores, int64_t count, std::chrono::steady_clock::time_point deadline) {
  require_scores(dimension_scores, count);
  const int64_t rows = dimension_scores.shape()[0];
  const int64_t columns = dimension_scores.shape()[1];
  const float* scores = dimension_scores.data<float>();
  std::vector<RowSearch> searches;
  searches.reserve(static_cast<size_t>(rows));
  for (int64_t row = 0; row < rows; ++row) {
    const std::span<const float> row_scores(scores + row * columns, static_cast<size_t>(columns));
    searches.push_back(RowSearch{BeamFrontier(row_scores, grid_), {}, {}, false});
  }

  Known known;
  uint64_t timed_out = 0;
  while (true) {
    std::vector<RowSearch*> waiting_rows;
    for (RowSearch& row : searches) {
      if (row.done) continue;
      advance(row, count, known);
      if (!row.done) waiting_rows.push_back(&row);
    }
    if (waiting_rows.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (RowSearch* row : waiting_rows) row->take_best_found(count);
      timed_out += waiting_rows.size();
      break;
    }
    // The round's gets: every row's best unknown prefix, then every row's second best, ...,
    // shared between rows, at most prefixes_per_round of them.
    std::map<std::string, std::vector<int64_t>> prefixes;
    const auto budget = static_cast<size_t>(options_.prefixes_per_round);
    for (size_t rank = 0; prefixes.size() < budget; ++rank) {
      bool deeper = false;
      for (RowSearch* row : waiting_rows) {
        if (rank >= row->waiting.size()) continue;
        deeper = true;
        const RowSearch::Waiting& waiting = row->waiting[rank];
        if (prefixes.size() < budget) prefixes.emplace(waiting.key, waiting.prefix.coords);
      }
      if (!deeper) break;
    }
    fetch(prefixes, deadline, known);
    // A prefix not fetched (over budget, or past the deadline) goes back to its row's frontier.
    for (RowSearch* row : waiting_rows) {
      for (RowSearch::Waiting& waiting : row->waiting) {
        if (const auto found = known.find(waiting.key); found != known.end()) {
          row->frontier.expand(waiting.prefix, *found->second);
        } else {
          row->frontier.push(std::move(waiting.prefix));
        }
      }
      row->waiting.clear();
    }
  }

  std::vector<std::vector<FoundExpert>> found;
  found.reserve(searches.size());
  for (RowSearch& row : searches) found.push_back(std::move(row.found));
  std::lock_guard lock(mutex_);
  stats_.searches += static_cast<uint64_t>(rows);
  stats_.timed_out += timed_out;
  return found;
}

BeamSearchStats BeamSearch::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void BeamSearch::require_scores(const Tensor& dimension_scores, int64_t count) const {
  HIVE_REQUIRE(count >= 1, "beam search over '", uid_prefix_, "': count ", count,
               ", expected at least 1 expert per row");
  HIVE_REQUIRE(dimension_scores.defined(), "beam search over '", uid_prefix_,
               "': the dimension scores are an undefined tensor");
  HIVE_REQUIRE(dimension_scores.dtype() == DType::kF32, "beam search over '", uid_prefix_,
               "': dimension scores of dtype ", dimension_scores.dtype(), ", expected f32");
  HIVE_REQUIRE(dimension_scores.device().is_cpu(), "beam search over '", uid_prefix_,
               "': dimension scores on ", dimension_scores.device(), ", expected the CPU");
  const int64_t columns = columns_of(grid_);
  HIVE_REQUIRE(dimension_scores.rank() == 2 && dimension_scores.shape()[1] == columns,
               "beam search over '", uid_prefix_, "': dimension scores of shape ",
               dimension_scores.shape(), ", expected [n, ", columns, "] (the sum of grid ",
               grid_text(grid_), ")");
  const float* scores = dimension_scores.data<float>();
  for (int64_t i = 0; i < dimension_scores.numel(); ++i) {
    HIVE_REQUIRE(std::isfinite(scores[i]), "beam search over '", uid_prefix_,
                 "': dimension score at row ", i / columns, ", column ", i % columns, " is ",
                 scores[i], ", expected a finite number");
  }
}

std::string BeamSearch::prefix_key(const std::vector<int64_t>& coords) const {
  std::string key = uid_prefix_ + kUidDelimiter;
  for (const int64_t index : coords) {
    key += std::to_string(index);
    key += kUidDelimiter;
  }
  return key;
}

std::shared_ptr<const PrefixContents> BeamSearch::known_contents(const std::string& key,
                                                                 Known& known) {
  if (const auto found = known.find(key); found != known.end()) return found->second;
  static const auto kNothingAlive = std::make_shared<const PrefixContents>();
  std::shared_ptr<const PrefixContents> contents;
  {
    std::lock_guard lock(mutex_);
    const SteadyTime now = std::chrono::steady_clock::now();
    if (const auto positive = positive_.find(key);
        positive != positive_.end() && positive->second.expires > now) {
      ++stats_.cache_hits;
      contents = positive->second.contents;
    } else if (const auto negative = negative_.find(key);
               negative != negative_.end() && negative->second > now) {
      ++stats_.negative_hits;
      contents = kNothingAlive;
    }
  }
  // The rest of this call sees the same contents, however soon the cache entry expires.
  if (contents) known.emplace(key, contents);
  return contents;
}

void BeamSearch::advance(RowSearch& row, int64_t count, Known& known) {
  BeamFrontier& frontier = row.frontier;
  while (true) {
    if (static_cast<int64_t>(row.found.size()) == count || frontier.empty()) {
      row.done = true;
      return;
    }
    if (frontier.top().expert) {
      row.accept(frontier.pop());
      continue;
    }
    const std::shared_ptr<const PrefixContents> contents =
        known_contents(prefix_key(frontier.top().coords), known);
    if (!contents) break;
    frontier.expand(frontier.pop(), *contents);
  }
  // The top is unknown. So are, maybe, some prefixes below it that may still hold one of the
  // experts the row lacks: those above the `remaining`-th expert already on the frontier.
  const size_t remaining = static_cast<size_t>(count) - row.found.size();
  std::vector<FrontierEntry> experts;
  while (!frontier.empty() && row.waiting.size() < remaining && experts.size() < remaining) {
    FrontierEntry entry = frontier.pop();
    if (entry.expert) {
      experts.push_back(std::move(entry));
      continue;
    }
    std::string key = prefix_key(entry.coords);
    if (const auto contents = known_contents(key, known)) {
      frontier.expand(entry, *contents);
    } else {
      row.waiting.push_back({std::move(key), std::move(entry)});
    }
  }
  for (FrontierEntry& expert : experts) frontier.push(std::move(expert));
}

void BeamSearch::fetch(const std::map<std::string, std::vector<int64_t>>& prefixes,
                       SteadyTime deadline, Known& known) {
  std::vector<std::future<dht::GetResult>> gets;
  gets.reserve(prefixes.size());
  for (const auto& [key, coords] : prefixes) gets.push_back(dht_.get(key));
  {
    std::lock_guard lock(mutex_);
    stats_.dht_gets += prefixes.size();
  }
  size_t i = 0;
  for (const auto& [key, coords] : prefixes) {
    std::future<dht::GetResult>& get = gets[i++];
    if (get.wait_until(deadline) != std::future_status::ready) continue;
    dht::GetResult result;
    try {
      result = get.get();
    } catch (const std::exception&) {
      continue;  // the DHT is shutting down: unknown, so neither searched nor cached
    }
    auto contents = std::make_shared<const PrefixContents>(
        read_prefix_record(result.record, uid_prefix_, grid_, coords, dht_.clock().now()));
    known.emplace(key, contents);
    remember(key, std::move(contents));
  }
}

void BeamSearch::remember(const std::string& key, std::shared_ptr<const PrefixContents> contents) {
  std::lock_guard lock(mutex_);
  const SteadyTime now = std::chrono::steady_clock::now();
  if (contents->empty()) {
    positive_.erase(key);
    negative_[key] = now + options_.negative_cache_ttl;
  } else {
    negative_.erase(key);
    positive_[key] = CachedContents{now + options_.positive_cache_ttl, std::move(contents)};
  }
  drop_expired_locked(now);
}

void BeamSearch::drop_expired_locked(SteadyTime now) {
  // Amortized: a sweep only once the caches have doubled since the last one.
  const size_t cached = positive_.size() + negative_.size();
  if (cached < std::max(kCacheSizeBeforeDropping, 2 * cached_after_last_drop_)) return;
  std::erase_if(positive_, [&](const auto& entry) { return entry.second.expires <= now; });
  std::erase_if(negative_, [&](const auto& entry) { return entry.second <= now; });
  cached_after_last_drop_ = positive_.size() + negative_.size();
}

}  // namespace hive::moe
