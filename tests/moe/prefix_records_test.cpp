// The prefix records a server announces for an expert: hivemind's declare_experts.
#include "moe/uid/prefix_records.h"

#include <gtest/gtest.h>

#include <vector>

namespace hive::moe {
namespace {

std::vector<PrefixRecord> records_of(const char* uid) {
  return prefix_records(ExpertUid::parse(uid).value());
}

TEST(PrefixRecords, TwoDimensionalUidAnnouncesItsSecondIndexUnderItsFirst) {
  EXPECT_EQ(records_of("ffn.3.17"), (std::vector<PrefixRecord>{{"ffn.3.", 17}}));
}

TEST(PrefixRecords, EveryIndexAfterTheFirstIsAnnouncedUnderThePrefixBeforeIt) {
  EXPECT_EQ(records_of("ffn.3.17.5"),
            (std::vector<PrefixRecord>{{"ffn.3.", 17}, {"ffn.3.17.", 5}}));
  EXPECT_EQ(records_of("e.0.0.0.0"),
            (std::vector<PrefixRecord>{{"e.0.", 0}, {"e.0.0.", 0}, {"e.0.0.0.", 0}}));
}

TEST(PrefixRecords, OneDimensionalUidIsAnnouncedUnderItselfWithTheFlatSubkey) {
  EXPECT_EQ(records_of("ffn.5"), (std::vector<PrefixRecord>{{"ffn.5.", kFlatExpertSubkey}}));
  EXPECT_EQ(kFlatExpertSubkey, -1);
}

TEST(PrefixRecords, TopLevelPrefixIsNeverAnnounced) {
  for (const char* uid : {"ffn.5", "ffn.3.17", "ffn.3.17.5"}) {
    for (const PrefixRecord& record : records_of(uid)) EXPECT_NE(record.prefix, "ffn.") << uid;
  }
}

}  // namespace
}  // namespace hive::moe
