// Beam search over a 3-node DHT swarm on loopback, checked against brute force over the experts
// that servers announced: the same experts in the same order with the same scores, on 3-d, 2-d
// and 1-d grids, one row per call or many; the caches sharing gets between rows and searches;
// records from bad peers ignored; the deadline; and clear errors for bad input.
#include "moe/client/beam_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/random.h"
#include "moe/server/expert_announcer.h"
#include "moe/uid/prefix_records.h"
#include "moe/uid/prefix_subkey.h"
#include "moe/uid/uid_pattern.h"
#include "tests/moe/dht_swarm.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using testing::DhtSwarm;
using testing::fake_peer;

constexpr size_t kServers = 4;

std::chrono::steady_clock::time_point in_a_minute() {
  return std::chrono::steady_clock::now() + 60s;
}

dht::DhtTime in_an_hour(dht::DhtRunner& dht) { return dht.clock().now() + 3'600'000; }

// One of kServers fake servers: "10.0.0.<s+1>:5000" with peer id bytes s+1.
ExpertLocation served_by(size_t server, ExpertUid uid) {
  return ExpertLocation{std::move(uid),
                        net::SocketAddress::parse(str_cat("10.0.0.", server + 1, ":5000")).value(),
                        fake_peer(static_cast<uint8_t>(server + 1))};
}

// Announces these uids, spread over kServers servers (uid i on server i % kServers), each
// server through its own node of the swarm.
std::vector<ExpertLocation> announce(DhtSwarm& swarm, const std::vector<ExpertUid>& uids) {
  std::vector<ExpertLocation> alive;
  std::vector<std::vector<ExpertUid>> by_server(kServers);
  for (size_t i = 0; i < uids.size(); ++i) {
    alive.push_back(served_by(i % kServers, uids[i]));
    by_server[i % kServers].push_back(uids[i]);
  }
  for (size_t server = 0; server < kServers; ++server) {
    const ExpertLocation& where = served_by(server, uids[0]);
    dht::DhtRunner& node = swarm.node(server % swarm.size());
    const net::Status declared =
        declare_experts(node, by_server[server], where.address, where.peer, in_an_hour(node));
    EXPECT_TRUE(declared.is_ok()) << declared.to_string();
  }
  return alive;
}

std::vector<ExpertLocation> announce_sample(DhtSwarm& swarm, const char* pattern, uint64_t count,
                                            uint64_t seed) {
  Generator generator(seed);
  return announce(swarm, UidPattern::parse(pattern).value().sample_distinct(count, generator).value());
}

}  // namespace

// For readable failures.
void PrintTo(const ExpertLocation& location, std::ostream* out) {
  *out << location.uid << " at " << location.address.to_string() << " (" << location.peer.to_hex()
       << ")";
}

namespace {

std::vector<ExpertUid> uids_of(std::initializer_list<const char*> texts) {
  std::vector<ExpertUid> uids;
  for (const char* text : texts) uids.push_back(ExpertUid::parse(text).value());
  return uids;
}

// The top `count` of `alive` for one row: scores summed left to right in float, as beam search
// does, best first, ties by uid.
std::vector<FoundExpert> brute_force(const std::vector<ExpertLocation>& alive,
                                     std::span<const float> row,
                                     const std::vector<int64_t>& grid, int64_t count) {
  std::vector<FoundExpert> scored;
  for (const ExpertLocation& location : alive) {
    float score = 0.0f;
    int64_t offset = 0;
    for (size_t dim = 0; dim < grid.size(); ++dim) {
      score += row[offset + location.uid.indices()[dim]];
      offset += grid[dim];
    }
    scored.push_back({location, score});
  }
  std::sort(scored.begin(), scored.end(), [](const FoundExpert& a, const FoundExpert& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.location.uid < b.location.uid;
  });
  if (static_cast<int64_t>(scored.size()) > count) scored.erase(scored.begin() + count, scored.end());
  return scored;
}

Tensor random_scores(int64_t rows, const std::vector<int64_t>& grid, uint64_t seed) {
  int64_t columns = 0;
  for (const int64_t size : grid) columns += size;
  Generator generator(seed);
  return Tensor::randn(Shape{rows, columns}, generator);
}

std::span<const float> row_of(const Tensor& scores, int64_t row) {
  const int64_t columns = scores.shape()[1];
  return {scores.data<float>() + row * columns, static_cast<size_t>(columns)};
}

void expect_brute_force(const std::vector<std::vector<FoundExpert>>& found, const Tensor& scores,
                        const std::vector<ExpertLocation>& alive,
                        const std::vector<int64_t>& grid, int64_t count) {
  ASSERT_EQ(static_cast<int64_t>(found.size()), scores.shape()[0]);
  for (int64_t row = 0; row < scores.shape()[0]; ++row) {
    const std::vector<FoundExpert> expected = brute_force(alive, row_of(scores, row), grid, count);
    ASSERT_EQ(found[row].size(), expected.size()) << "row " << row;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(found[row][i].location, expected[i].location) << "row " << row << ", rank " << i;
      EXPECT_NEAR(found[row][i].score, expected[i].score, 1e-5) << "row " << row << ", rank " << i;
    }
  }
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no hive::Error";
  return "";
}

class BeamSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    swarm_ = std::make_unique<DhtSwarm>(3);
    cube_ = announce_sample(*swarm_, "ffn.[0:32].[0:32].[0:32]", 1000, 1);
    square_ = announce_sample(*swarm_, "square.[0:16].[0:16]", 60, 2);
    line_ = announce_sample(*swarm_, "line.[0:64]", 20, 3);
    // Only its first four rows hold experts.
    sparse_ = announce(*swarm_, uids_of({"sparse.0.1", "sparse.1.7", "sparse.2.2", "sparse.3.0"}));
  }
  static void TearDownTestSuite() { swarm_.reset(); }

  static dht::DhtRunner& client() { return swarm_->node(2); }

  inline static std::unique_ptr<DhtSwarm> swarm_;
  inline static std::vector<ExpertLocation> cube_, square_, line_, sparse_;
  const std::vector<int64_t> cube_grid_{32, 32, 32};
};

TEST_F(BeamSearchTest, CubeGridMatchesBruteForceOneRowPerCall) {
  BeamSearch search(client(), "ffn", cube_grid_);
  const Tensor scores = random_scores(64, cube_grid_, 11);
  for (int64_t row = 0; row < 64; ++row) {
    const Tensor one = scores.rows(row, row + 1).clone();
    expect_brute_force(search.find_best_experts(one, 4, in_a_minute()), one, cube_, cube_grid_, 4);
  }
  EXPECT_EQ(search.stats().searches, 64u);
  EXPECT_EQ(search.stats().timed_out, 0u);
}

TEST_F(BeamSearchTest, CubeGridMatchesBruteForceForABatchOfRows) {
  const Tensor scores = random_scores(64, cube_grid_, 12);
  for (const int64_t count : {4, 10}) {
    BeamSearch search(client(), "ffn", cube_grid_);
    expect_brute_force(search.find_best_experts(scores, count, in_a_minute()), scores, cube_,
                       cube_grid_, count);
  }
}

TEST_F(BeamSearchTest, SquareGridMatchesBruteForce) {
  const std::vector<int64_t> grid{16, 16};
  BeamSearch search(client(), "square", grid);
  const Tensor scores = random_scores(32, grid, 13);
  expect_brute_force(search.find_best_experts(scores, 5, in_a_minute()), scores, square_, grid, 5);
}

TEST_F(BeamSearchTest, LineGridMatchesBruteForce) {
  const std::vector<int64_t> grid{64};
  BeamSearch search(client(), "line", grid);
  const Tensor scores = random_scores(32, grid, 14);
  expect_brute_force(search.find_best_experts(scores, 6, in_a_minute()), scores, line_, grid, 6);
}

TEST_F(BeamSearchTest, FewerAliveExpertsThanCountGivesEveryAliveExpert) {
  const std::vector<int64_t> grid{64};
  BeamSearch search(client(), "line", grid);
  const Tensor scores = random_scores(4, grid, 15);
  const auto found = search.find_best_experts(scores, 50, in_a_minute());
  for (const auto& row : found) EXPECT_EQ(row.size(), line_.size());
  expect_brute_force(found, scores, line_, grid, 50);
}

TEST_F(BeamSearchTest, SecondIdenticalSearchIssuesNoNewGets) {
  BeamSearchOptions options;
  options.positive_cache_ttl = 60s;
  BeamSearch search(client(), "ffn", cube_grid_, options);
  const Tensor scores = random_scores(16, cube_grid_, 16);
  const auto first = search.find_best_experts(scores, 4, in_a_minute());
  const BeamSearchStats before = search.stats();
  EXPECT_GT(before.dht_gets, 0u);
  const auto second = search.find_best_experts(scores, 4, in_a_minute());
  const BeamSearchStats after = search.stats();
  EXPECT_EQ(after.dht_gets, before.dht_gets);
  EXPECT_GT(after.cache_hits, before.cache_hits);
  expect_brute_force(second, scores, cube_, cube_grid_, 4);
}

TEST_F(BeamSearchTest, EmptyPrefixIsNegativelyCached) {
  const std::vector<int64_t> grid{8, 8};
  BeamSearch search(client(), "sparse", grid);
  // Row 7 of the first dimension scores best, and nothing is alive there.
  std::vector<float> row(16, 0.0f);
  row[7] = 10.0f;
  const Tensor scores = Tensor::from_vector(row, Shape{1, 16});
  expect_brute_force(search.find_best_experts(scores, 1, in_a_minute()), scores, sparse_, grid, 1);
  const BeamSearchStats before = search.stats();
  EXPECT_EQ(before.negative_hits, 0u);
  expect_brute_force(search.find_best_experts(scores, 1, in_a_minute()), scores, sparse_, grid, 1);
  const BeamSearchStats after = search.stats();
  EXPECT_GE(after.negative_hits, 1u) << "sparse.7. is known empty";
  EXPECT_EQ(after.dht_gets, before.dht_gets);
}

TEST_F(BeamSearchTest, RecordsFromBadPeersAreIgnored) {
  const std::vector<int64_t> grid{4, 4};
  std::vector<ExpertLocation> alive = announce(*swarm_, uids_of({"junk.1.2"}));
  dht::DhtRunner& peer = swarm_->node(1);
  const dht::DhtTime expiration = in_an_hour(peer);
  const auto value_of = [](const char* uid) {
    return encode_expert_location(served_by(0, ExpertUid::parse(uid).value()));
  };
  const auto store = [&](const char* key, dht::Bytes value, std::optional<dht::Bytes> subkey) {
    EXPECT_TRUE(peer.store(key, std::move(value), expiration, std::move(subkey)).get().ok()) << key;
  };
  store("junk.1.", {std::byte{1}, std::byte{2}}, encode_prefix_subkey(3));     // not a location
  store("junk.1.", value_of("junk.1.9"), encode_prefix_subkey(9));             // outside the grid
  store("junk.1.", value_of("junk.2.0"), encode_prefix_subkey(0));             // another prefix's
  store("junk.1.", value_of("junk.1.1"), dht::Bytes{std::byte{1}});            // a 1-byte subkey
  store("junk.1.", value_of("junk.1.1.0"), encode_prefix_subkey(1));           // too deep
  store("junk.2.", value_of("junk.2.0"), std::nullopt);                        // not a dictionary
  store("junk.3.", value_of("junk.3.0"), encode_prefix_subkey(kFlatExpertSubkey));

  BeamSearch search(client(), "junk", grid);
  const Tensor scores = random_scores(8, grid, 17);
  expect_brute_force(search.find_best_experts(scores, 4, in_a_minute()), scores, alive, grid, 4);
}

TEST_F(BeamSearchTest, CachedSearchNeedsNoTimeLeft) {
  BeamSearchOptions options;
  options.positive_cache_ttl = 60s;
  BeamSearch search(client(), "ffn", cube_grid_, options);
  const Tensor scores = random_scores(8, cube_grid_, 18);
  (void)search.find_best_experts(scores, 4, in_a_minute());
  const auto past = std::chrono::steady_clock::now() - 1s;
  expect_brute_force(search.find_best_experts(scores, 4, past), scores, cube_, cube_grid_, 4);
  EXPECT_EQ(search.stats().timed_out, 0u);
}

TEST_F(BeamSearchTest, PastDeadlineReturnsWithoutGetsAndCountsTimedOutRows) {
  BeamSearch search(client(), "ffn", cube_grid_);
  const Tensor scores = random_scores(3, cube_grid_, 19);
  const auto found = search.find_best_experts(scores, 4, std::chrono::steady_clock::now() - 1s);
  ASSERT_EQ(found.size(), 3u);
  for (const auto& row : found) EXPECT_TRUE(row.empty()) << "nothing was fetched";
  EXPECT_EQ(search.stats().timed_out, 3u);
  EXPECT_EQ(search.stats().dht_gets, 0u);
}

TEST_F(BeamSearchTest, ConcurrentSearchesAgreeWithBruteForce) {
  BeamSearch search(client(), "ffn", cube_grid_);
  std::vector<Tensor> scores;
  for (uint64_t thread = 0; thread < 4; ++thread) {
    scores.push_back(random_scores(16, cube_grid_, 20 + thread));
  }
  std::vector<std::vector<std::vector<FoundExpert>>> found(scores.size());
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < scores.size(); ++i) {
      threads.emplace_back([&, i] { found[i] = search.find_best_experts(scores[i], 4, in_a_minute()); });
    }
  }
  for (size_t i = 0; i < scores.size(); ++i) expect_brute_force(found[i], scores[i], cube_, cube_grid_, 4);
}

TEST_F(BeamSearchTest, BadScoresAreRefusedNamingTheShape) {
  BeamSearch search(client(), "ffn", cube_grid_);
  std::string error = error_of([&] { (void)search.find_best_experts(Tensor::zeros({2, 95}), 4, in_a_minute()); });
  EXPECT_NE(error.find("shape [2, 95], expected [n, 96]"), std::string::npos) << error;
  error = error_of([&] { (void)search.find_best_experts(Tensor::zeros({96}), 4, in_a_minute()); });
  EXPECT_NE(error.find("shape [96]"), std::string::npos) << error;
  error = error_of([&] { (void)search.find_best_experts(Tensor::zeros({1, 96}, DType::kI32), 4, in_a_minute()); });
  EXPECT_NE(error.find("dtype"), std::string::npos) << error;
  error = error_of([&] { (void)search.find_best_experts(Tensor::zeros({1, 96}), 0, in_a_minute()); });
  EXPECT_NE(error.find("count 0"), std::string::npos) << error;
  Tensor nan = Tensor::zeros({2, 96});
  nan.data<float>()[96 + 5] = std::numeric_limits<float>::quiet_NaN();
  error = error_of([&] { (void)search.find_best_experts(nan, 4, in_a_minute()); });
  EXPECT_NE(error.find("row 1, column 5 is nan"), std::string::npos) << error;
}

TEST_F(BeamSearchTest, InvalidPrefixGridOrOptionsAreRefused) {
  std::string error = error_of([&] { BeamSearch search(client(), "f.n", {4}); });
  EXPECT_NE(error.find("uid prefix 'f.n'"), std::string::npos) << error;
  error = error_of([&] { BeamSearch search(client(), "ffn", {}); });
  EXPECT_NE(error.find("no dimension"), std::string::npos) << error;
  error = error_of([&] { BeamSearch search(client(), "ffn", {4, 0}); });
  EXPECT_NE(error.find("grid [4, 0] has 0 experts in dimension 1"), std::string::npos) << error;
  BeamSearchOptions options;
  options.prefixes_per_round = 0;
  error = error_of([&] { BeamSearch search(client(), "ffn", {4}, options); });
  EXPECT_NE(error.find("0 prefixes per round"), std::string::npos) << error;
}

}  // namespace
}  // namespace hive::moe
