// Expert uids: the grammar (a table of valid and invalid uids with the reason each is refused),
// the canonical spelling, and prefix keys.
#include "moe/uid/expert_uid.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hive::moe {
namespace {

struct ValidUid {
  std::string text;
  std::string prefix;
  std::vector<int64_t> indices;
};

TEST(ExpertUid, ParsesValidUidsIntoPrefixAndIndices) {
  const std::vector<ValidUid> table = {
      {"ffn.0", "ffn", {0}},
      {"ffn.3.17", "ffn", {3, 17}},
      {"ffn_expert.98.76.54", "ffn_expert", {98, 76, 54}},
      {"expert.0.0.0.0", "expert", {0, 0, 0, 0}},
      {"my expert.10", "my expert", {10}},  // hivemind's grammar allows any non-dot prefix
      {"ffn.9223372036854775807", "ffn", {INT64_MAX}},
  };
  for (const ValidUid& row : table) {
    const Result<ExpertUid> uid = ExpertUid::parse(row.text);
    ASSERT_TRUE(uid.is_ok()) << row.text << ": " << uid.message();
    EXPECT_EQ(uid.value().prefix(), row.prefix) << row.text;
    EXPECT_EQ(uid.value().indices(), row.indices) << row.text;
    EXPECT_EQ(uid.value().to_string(), row.text) << "a valid uid has one spelling";
  }
}

struct InvalidUid {
  std::string text;
  std::string message;
};

TEST(ExpertUid, RefusesInvalidUidsSayingWhatIsWrongAndWhere) {
  const std::vector<InvalidUid> table = {
      {"", "expert uid '' is empty"},
      {"ffn",
       "expert uid 'ffn' has no index after its prefix (expected prefix.i[.j...], e.g. "
       "'ffn.3.17')"},
      {".3.17", "expert uid '.3.17': the prefix before the first '.' is empty"},
      {"ffn.03.1", "expert uid 'ffn.03.1': index 1 '03' has a leading zero"},
      {"ffn.3.01", "expert uid 'ffn.3.01': index 2 '01' has a leading zero"},
      {"ffn.00", "expert uid 'ffn.00': index 1 '00' has a leading zero"},
      {"ffn.3.", "expert uid 'ffn.3.': index 2 is empty"},
      {"ffn..3", "expert uid 'ffn..3': index 1 is empty"},
      {"ffn.-1", "expert uid 'ffn.-1': index 1 '-1' is not a non-negative decimal integer"},
      {"ffn.+1", "expert uid 'ffn.+1': index 1 '+1' is not a non-negative decimal integer"},
      {"ffn.1a", "expert uid 'ffn.1a': index 1 '1a' is not a non-negative decimal integer"},
      {"ffn. 1", "expert uid 'ffn. 1': index 1 ' 1' is not a non-negative decimal integer"},
      {"ffn.[0:4]",
       "expert uid 'ffn.[0:4]': index 1 '[0:4]' is not a non-negative decimal "
       "integer"},
      {"ffn.9223372036854775808",
       "expert uid 'ffn.9223372036854775808': index 1 "
       "'9223372036854775808' is too large (at most "
       "9223372036854775807)"},
  };
  for (const InvalidUid& row : table) {
    const Result<ExpertUid> uid = ExpertUid::parse(row.text);
    ASSERT_FALSE(uid.is_ok()) << "'" << row.text << "' was accepted";
    EXPECT_EQ(uid.message(), row.message);
  }
}

TEST(ExpertUid, FromPartsBuildsTheSameUidAsParsing) {
  const Result<ExpertUid> built = ExpertUid::from_parts("ffn", {3, 17});
  ASSERT_TRUE(built.is_ok()) << built.message();
  EXPECT_EQ(built.value(), ExpertUid::parse("ffn.3.17").value());
  EXPECT_EQ(built.value().to_string(), "ffn.3.17");
}

TEST(ExpertUid, FromPartsRefusesWhatParsingWouldRefuse) {
  EXPECT_EQ(ExpertUid::from_parts("", {1}).message(), "expert uid: the prefix is empty");
  EXPECT_EQ(ExpertUid::from_parts("ffn.3", {1}).message(),
            "expert uid: the prefix 'ffn.3' contains '.'");
  EXPECT_EQ(ExpertUid::from_parts("ffn", {}).message(),
            "expert uid with prefix 'ffn' has no index");
  EXPECT_EQ(ExpertUid::from_parts("ffn", {3, -2}).message(),
            "expert uid with prefix 'ffn': index 2 (-2) is negative");
}

TEST(ExpertUid, PrefixKeysEndWithTheDelimiter) {
  const ExpertUid uid = ExpertUid::parse("ffn.3.17.5").value();
  EXPECT_EQ(uid.prefix_key(0), "ffn.");
  EXPECT_EQ(uid.prefix_key(1), "ffn.3.");
  EXPECT_EQ(uid.prefix_key(2), "ffn.3.17.");
  EXPECT_EQ(uid.prefix_key(3), "ffn.3.17.5.");
}

TEST(ExpertUid, OrdersByPrefixThenIndicesNumerically) {
  const auto uid = [](const char* text) { return ExpertUid::parse(text).value(); };
  EXPECT_LT(uid("ffn.2"), uid("ffn.10"));
  EXPECT_LT(uid("ffn.2.9"), uid("ffn.10.0"));
  EXPECT_LT(uid("attn.99"), uid("ffn.0"));
  EXPECT_EQ(uid("ffn.3.17"), uid("ffn.3.17"));
}

}  // namespace
}  // namespace hive::moe
