// Uid patterns: parsing (with the reason a bad one is refused), enumeration in row-major order,
// and seeded sampling.
#include "moe/uid/uid_pattern.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace hive::moe {
namespace {

std::vector<std::string> texts(const std::vector<ExpertUid>& uids) {
  std::vector<std::string> result;
  for (const ExpertUid& uid : uids) result.push_back(uid.to_string());
  return result;
}

TEST(UidPattern, ParsesRangesAndFixedIndices) {
  const UidPattern grid = UidPattern::parse("ffn.[0:16].[0:16]").value();
  EXPECT_EQ(grid.prefix(), "ffn");
  EXPECT_EQ(grid.ranges(), (std::vector<IndexRange>{{0, 16}, {0, 16}}));
  EXPECT_EQ(grid.size(), 256u);

  const UidPattern row = UidPattern::parse("ffn.3.[0:8]").value();
  EXPECT_EQ(row.ranges(), (std::vector<IndexRange>{{3, 4}, {0, 8}}));
  EXPECT_EQ(row.size(), 8u);

  const UidPattern single = UidPattern::parse("ffn.3.17").value();
  EXPECT_EQ(single.size(), 1u);
  EXPECT_EQ(texts(single.enumerate()), std::vector<std::string>{"ffn.3.17"});
}

TEST(UidPattern, ToStringRoundTrips) {
  for (const char* text : {"ffn.[0:16].[0:16]", "ffn.3.[0:8]", "ffn.3.17"}) {
    EXPECT_EQ(UidPattern::parse(text).value().to_string(), text);
  }
}

TEST(UidPattern, RangeOfOneIndexPrintsAsThatIndex) {
  EXPECT_EQ(UidPattern::parse("e.[5:6]").value().to_string(), "e.5");
}

struct InvalidPattern {
  std::string text;
  std::string message;
};

TEST(UidPattern, RefusesInvalidPatternsSayingWhichBlockAndWhy) {
  const std::vector<InvalidPattern> table = {
      {"ffn",
       "expert pattern 'ffn' has no block after its prefix (expected e.g. "
       "'ffn.[0:16].[0:16]')"},
      {".[0:4]", "expert pattern '.[0:4]': the prefix before the first '.' is empty"},
      {"[0:4].1",
       "expert pattern '[0:4].1': the prefix '[0:4]' is not literal text (a range "
       "may only follow the prefix)"},
      {"ffn.[4:2]",
       "expert pattern 'ffn.[4:2]': block 1 '[4:2]' is an empty range (expected "
       "begin < end)"},
      {"ffn.1.[3:3]",
       "expert pattern 'ffn.1.[3:3]': block 2 '[3:3]' is an empty range "
       "(expected begin < end)"},
      {"ffn.[0:4",
       "expert pattern 'ffn.[0:4': block 1 '[0:4' is neither an index nor a range "
       "[begin:end]"},
      {"ffn.0:4]",
       "expert pattern 'ffn.0:4]': block 1 '0:4]' is neither an index nor a range "
       "[begin:end]"},
      {"ffn.[0-4]",
       "expert pattern 'ffn.[0-4]': block 1 '[0-4]' is neither an index nor a "
       "range [begin:end]"},
      {"ffn.[:4]", "expert pattern 'ffn.[:4]': block 1 '[:4]': the range's begin is empty"},
      {"ffn.[0:04]",
       "expert pattern 'ffn.[0:04]': block 1 '[0:04]': the range's end '04' has "
       "a leading zero"},
      {"ffn.[0:4].", "expert pattern 'ffn.[0:4].': block 2 is empty"},
      {"ffn.03", "expert pattern 'ffn.03': block 1 '03' has a leading zero"},
      {"ffn.*", "expert pattern 'ffn.*': block 1 '*' is not a non-negative decimal integer"},
      {"ffn.[0:4294967296].[0:4294967296]",
       "expert pattern 'ffn.[0:4294967296].[0:4294967296]' holds more than "
       "18446744073709551615 uids"},
  };
  for (const InvalidPattern& row : table) {
    const Result<UidPattern> pattern = UidPattern::parse(row.text);
    ASSERT_FALSE(pattern.is_ok()) << "'" << row.text << "' was accepted";
    EXPECT_EQ(pattern.message(), row.message);
  }
}

TEST(UidPattern, EnumeratesEveryUidInRowMajorOrder) {
  const UidPattern pattern = UidPattern::parse("e.[0:2].[5:8]").value();
  EXPECT_EQ(texts(pattern.enumerate()),
            (std::vector<std::string>{"e.0.5", "e.0.6", "e.0.7", "e.1.5", "e.1.6", "e.1.7"}));
  EXPECT_EQ(pattern.uid_at(4).to_string(), "e.1.6");
}

TEST(UidPattern, SamplingIsDeterministicForASeedAndStaysInsideThePattern) {
  const UidPattern pattern = UidPattern::parse("ffn.[0:4].[10:13]").value();
  Generator first(7);
  Generator second(7);
  std::map<std::string, int> counts;
  for (int draw = 0; draw < 600; ++draw) {
    const ExpertUid uid = pattern.sample(first);
    EXPECT_EQ(uid, pattern.sample(second));
    ASSERT_EQ(uid.indices().size(), 2u);
    EXPECT_LT(uid.indices()[0], 4);
    EXPECT_GE(uid.indices()[1], 10);
    EXPECT_LT(uid.indices()[1], 13);
    ++counts[uid.to_string()];
  }
  EXPECT_EQ(counts.size(), pattern.size()) << "600 draws reach all 12 uids";
}

TEST(UidPattern, SampleDistinctGivesDistinctUidsInRowMajorOrder) {
  const UidPattern pattern = UidPattern::parse("ffn.[0:8].[0:8]").value();
  Generator generator(3);
  const std::vector<ExpertUid> uids = pattern.sample_distinct(20, generator).value();
  ASSERT_EQ(uids.size(), 20u);
  EXPECT_EQ(std::set<ExpertUid>(uids.begin(), uids.end()).size(), 20u);
  EXPECT_TRUE(std::is_sorted(uids.begin(), uids.end()));
  Generator again(3);
  EXPECT_EQ(pattern.sample_distinct(20, again).value(), uids);
}

TEST(UidPattern, SampleDistinctOfTheWholePatternIsTheWholePattern) {
  const UidPattern pattern = UidPattern::parse("ffn.[0:3].[0:3]").value();
  Generator generator(11);
  EXPECT_EQ(pattern.sample_distinct(9, generator).value(), pattern.enumerate());
}

TEST(UidPattern, SampleDistinctFromAHugePatternNeedsNoEnumeration) {
  const UidPattern pattern = UidPattern::parse("ffn.[0:1000000].[0:1000000]").value();
  Generator generator(5);
  const std::vector<ExpertUid> uids = pattern.sample_distinct(100, generator).value();
  EXPECT_EQ(std::set<ExpertUid>(uids.begin(), uids.end()).size(), 100u);
}

TEST(UidPattern, SampleDistinctRefusesMoreUidsThanThePatternHolds) {
  const UidPattern pattern = UidPattern::parse("ffn.[0:2].[0:2]").value();
  Generator generator(1);
  EXPECT_EQ(pattern.sample_distinct(5, generator).message(),
            "expert pattern 'ffn.[0:2].[0:2]' holds 4 uids: cannot sample 5 distinct ones");
}

}  // namespace
}  // namespace hive::moe
