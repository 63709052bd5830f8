// Announcing experts in a DHT swarm on loopback: every record a server stores, finding the
// experts from another node, and the announcer keeping them alive until it stops, after which
// they expire within two periods.
#include "moe/server/expert_announcer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "moe/uid/prefix_records.h"
#include "moe/uid/prefix_subkey.h"
#include "tests/moe/dht_swarm.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using testing::DhtSwarm;
using testing::fake_peer;

std::vector<ExpertUid> uids_of(std::initializer_list<const char*> texts) {
  std::vector<ExpertUid> uids;
  for (const char* text : texts) uids.push_back(ExpertUid::parse(text).value());
  return uids;
}

// Expiration is the behaviour under test: this waits for DHT time (wall-clock milliseconds) to
// pass `time`, not for another thread.
void wait_until_dht_time(dht::DhtTime time) {
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(time)));
}

class ExpertAnnouncerTest : public ::testing::Test {
 protected:
  DhtSwarm swarm_{3};
  const net::SocketAddress server_ = net::SocketAddress::parse("10.1.2.3:4000").value();
  const net::PeerId peer_ = fake_peer(42);
};

TEST_F(ExpertAnnouncerTest, DeclaredExpertsAreFoundFromAnotherNode) {
  const std::vector<ExpertUid> uids = uids_of({"ffn.3.17", "ffn.3.20", "ffn.5.1.2"});
  const dht::DhtTime expiration = swarm_.node(0).clock().now() + 60'000;
  const net::Status declared = declare_experts(swarm_.node(0), uids, server_, peer_, expiration);
  ASSERT_TRUE(declared.is_ok()) << declared.to_string();

  std::vector<ExpertUid> asked = uids;
  asked.push_back(ExpertUid::parse("ffn.3.18").value());
  const std::vector<std::optional<ExpertLocation>> found = find_experts(swarm_.node(2), asked);
  ASSERT_EQ(found.size(), 4u);
  for (size_t i = 0; i < uids.size(); ++i) {
    ASSERT_TRUE(found[i].has_value()) << uids[i];
    EXPECT_EQ(*found[i], (ExpertLocation{uids[i], server_, peer_}));
  }
  EXPECT_FALSE(found[3].has_value()) << "ffn.3.18 was never declared";
}

TEST_F(ExpertAnnouncerTest, EveryPrefixRecordNamesItsNextIndexAndTheExpert) {
  const std::vector<ExpertUid> uids = uids_of({"ffn.3.17", "ffn.3.20", "ffn.5.1.2"});
  const dht::DhtTime expiration = swarm_.node(0).clock().now() + 60'000;
  ASSERT_TRUE(declare_experts(swarm_.node(0), uids, server_, peer_, expiration).is_ok());

  const dht::GetResult three = swarm_.node(1).get("ffn.3.").get();
  ASSERT_TRUE(three.record.has_value());
  const dht::Dictionary& subkeys = three.record->dictionary();
  ASSERT_EQ(subkeys.size(), 2u);
  for (const ExpertUid& uid : {uids[0], uids[1]}) {
    const dht::TimedValue& entry = subkeys.at(encode_prefix_subkey(uid.indices()[1]));
    EXPECT_EQ(decode_expert_location(entry.value).value(), (ExpertLocation{uid, server_, peer_}));
    EXPECT_EQ(entry.expiration, expiration);
  }
  for (const PrefixRecord& record : prefix_records(uids[2])) {
    const dht::GetResult found = swarm_.node(2).get(record.prefix).get();
    ASSERT_TRUE(found.record.has_value()) << record.prefix;
    EXPECT_TRUE(found.record->dictionary().contains(encode_prefix_subkey(record.subkey)))
        << record.prefix;
  }
  EXPECT_FALSE(swarm_.node(1).get("ffn.").get().record.has_value()) << "never announced";
}

TEST_F(ExpertAnnouncerTest, OneDimensionalExpertIsAnnouncedUnderTheFlatSubkey) {
  const std::vector<ExpertUid> uids = uids_of({"solo.5"});
  const dht::DhtTime expiration = swarm_.node(0).clock().now() + 60'000;
  ASSERT_TRUE(declare_experts(swarm_.node(0), uids, server_, peer_, expiration).is_ok());
  const dht::GetResult found = swarm_.node(1).get("solo.5.").get();
  ASSERT_TRUE(found.record.has_value());
  const dht::Dictionary& subkeys = found.record->dictionary();
  ASSERT_EQ(subkeys.size(), 1u);
  EXPECT_EQ(decode_prefix_subkey(subkeys.begin()->first), kFlatExpertSubkey);
  EXPECT_EQ(decode_expert_location(subkeys.begin()->second.value).value().uid, uids[0]);
}

TEST_F(ExpertAnnouncerTest, DeclaringRecordsThatNoNodeTakesNamesTheFirst) {
  const std::vector<ExpertUid> uids = uids_of({"ffn.3.17", "ffn.4.1"});
  const dht::DhtTime expired = swarm_.node(0).clock().now() - 1000;
  const net::Status declared = declare_experts(swarm_.node(0), uids, server_, peer_, expired);
  EXPECT_EQ(declared.code(), net::StatusCode::kUnavailable);
  EXPECT_NE(declared.message().find("record 'ffn.3.17'"), std::string::npos) << declared.message();
  EXPECT_NE(declared.message().find("4 of 4 records failed"), std::string::npos)
      << declared.message();
}

TEST_F(ExpertAnnouncerTest, AnnouncerKeepsRecordsAliveAcrossPeriods) {
  const std::vector<ExpertUid> uids = uids_of({"ffn.3.17", "ffn.6.2"});
  ExpertAnnouncerOptions options;
  options.period = 300ms;
  ExpertAnnouncer announcer(swarm_.node(0), uids, server_, peer_, options);
  const net::Status first = announcer.wait_first_announcement();
  ASSERT_TRUE(first.is_ok()) << first.to_string();
  const dht::GetResult announced = swarm_.node(1).get("ffn.3.17").get();
  ASSERT_TRUE(announced.record.has_value());
  const dht::DhtTime first_expiration = announced.record->expiration;
  EXPECT_LE(first_expiration, swarm_.node(1).clock().now() + 600);

  // Two and a half periods after the first announcement its records have expired: what is
  // found now was announced again (the second announcement's records last until three periods).
  wait_until_dht_time(first_expiration + 150);
  for (const std::optional<ExpertLocation>& found : find_experts(swarm_.node(2), uids)) {
    EXPECT_TRUE(found.has_value());
  }
  const dht::GetResult prefix = swarm_.node(2).get("ffn.6.").get();
  ASSERT_TRUE(prefix.record.has_value());
  EXPECT_GT(prefix.record->expiration, first_expiration);
  EXPECT_GE(announcer.announcements(), 2u);
}

TEST_F(ExpertAnnouncerTest, RecordsVanishWithinTwoPeriodsAfterStop) {
  const std::vector<ExpertUid> uids = uids_of({"ffn.3.17", "ffn.6.2"});
  ExpertAnnouncerOptions options;
  options.period = 300ms;
  ExpertAnnouncer announcer(swarm_.node(0), uids, server_, peer_, options);
  ASSERT_TRUE(announcer.wait_first_announcement().is_ok());
  announcer.stop();
  const dht::DhtTime stopped = swarm_.node(0).clock().now();

  const dht::GetResult last = swarm_.node(1).get("ffn.3.17").get();
  ASSERT_TRUE(last.record.has_value());
  EXPECT_LE(last.record->expiration, stopped + 600);
  wait_until_dht_time(last.record->expiration + 1);
  for (const std::optional<ExpertLocation>& found : find_experts(swarm_.node(2), uids)) {
    EXPECT_FALSE(found.has_value());
  }
  EXPECT_FALSE(swarm_.node(1).get("ffn.6.").get().record.has_value());
}

TEST_F(ExpertAnnouncerTest, StopIsIdempotent) {
  ExpertAnnouncerOptions options;
  options.period = 300ms;
  ExpertAnnouncer announcer(swarm_.node(0), uids_of({"ffn.1.1"}), server_, peer_, options);
  ASSERT_TRUE(announcer.wait_first_announcement().is_ok());
  announcer.stop();
  const uint64_t announcements = announcer.announcements();
  announcer.stop();
  EXPECT_EQ(announcer.announcements(), announcements);
}

TEST_F(ExpertAnnouncerTest, NonPositivePeriodIsRefused) {
  ExpertAnnouncerOptions options;
  options.period = 0ms;
  try {
    ExpertAnnouncer announcer(swarm_.node(0), uids_of({"ffn.1.1"}), server_, peer_, options);
    FAIL() << "a period of 0 ms was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("period of 0 ms"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace hive::moe
