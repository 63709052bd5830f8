// FaultInjector: the drawn fractions, determinism by seed, bad settings, and stalled calls that
// stay unanswered until released (or until more than kMaxStalled pile up).
#include "moe/server/fault_injection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "engine/core/error.h"
#include "net/loop/event_loop.h"

namespace hive::moe {
namespace {

std::vector<InjectedFault> draws(FaultInjectionOptions options, int count) {
  FaultInjector injector(options);
  std::vector<InjectedFault> result;
  for (int i = 0; i < count; ++i) result.push_back(injector.draw());
  return result;
}

TEST(FaultInjectionTest, DrawsEachFaultAtItsFractionAndRepeatsWithTheSeed) {
  const FaultInjectionOptions options{.fail_fraction = 0.1, .stall_fraction = 0.05, .seed = 3};
  const std::vector<InjectedFault> first = draws(options, 20000);
  EXPECT_EQ(first, draws(options, 20000));
  const auto count = [&](InjectedFault fault) {
    return std::count(first.begin(), first.end(), fault);
  };
  // Binomial standard deviations: ~42 and ~31; these bounds are 6 of them.
  EXPECT_NEAR(count(InjectedFault::kFail), 2000, 250);
  EXPECT_NEAR(count(InjectedFault::kStall), 1000, 190);
  EXPECT_NE(first, draws({.fail_fraction = 0.1, .stall_fraction = 0.05, .seed = 4}, 20000));
}

TEST(FaultInjectionTest, NoFaultsByDefault) {
  FaultInjector injector({});
  EXPECT_FALSE(injector.enabled());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(injector.draw(), InjectedFault::kNone);
}

TEST(FaultInjectionTest, RefusesFractionsOutsideTheUnitIntervalOrAddingUpToMoreThanOne) {
  EXPECT_THROW(FaultInjector({.fail_fraction = -0.1, .stall_fraction = 0.0, .seed = 0}), Error);
  EXPECT_THROW(FaultInjector({.fail_fraction = 0.0, .stall_fraction = 1.5, .seed = 0}), Error);
  try {
    FaultInjector({.fail_fraction = 0.6, .stall_fraction = 0.6, .seed = 0});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("fail fraction 0.6 and stall fraction 0.6"),
              std::string::npos)
        << error.what();
  }
}

TEST(FaultInjectionTest, StalledCallsStayUnansweredUntilReleasedAndTheOldestGoFirst) {
  net::EventLoop loop;
  std::vector<net::Status> answers;
  std::vector<std::shared_ptr<net::Responder>> responders;
  FaultInjector injector({.fail_fraction = 0.0, .stall_fraction = 1.0, .seed = 0});
  for (size_t i = 0; i < FaultInjector::kMaxStalled + 1; ++i) {
    responders.push_back(std::make_shared<net::Responder>(
        loop, "moe.forward",
        [&answers](net::Result<net::Message> reply) { answers.push_back(reply.status()); }));
    injector.stall(responders.back());
  }
  loop.run_sync([] {});  // the answers are delivered on the I/O thread
  EXPECT_TRUE(responders.front()->answered()) << "past kMaxStalled, the oldest is answered";
  EXPECT_FALSE(responders[1]->answered());
  injector.release_stalled();
  loop.run_sync([] {});
  for (const auto& responder : responders) EXPECT_TRUE(responder->answered());
  ASSERT_EQ(answers.size(), responders.size());
  for (const net::Status& status : answers) {
    EXPECT_EQ(status.code(), net::StatusCode::kUnavailable) << status.to_string();
  }
}

}  // namespace
}  // namespace hive::moe
