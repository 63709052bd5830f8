// Checking a call's tensors against a schema: each kind of mismatch, named precisely.
#include "moe/experts/schema_check.h"

#include <gtest/gtest.h>

#include <vector>

namespace hive::moe {
namespace {

const std::vector<TensorSchema> kInputs = {{DType::kF32, Shape{1024}}, {DType::kU8, Shape{4, 2}}};

std::string error_of(const std::vector<Tensor>& tensors,
                     std::optional<int64_t> rows = std::nullopt) {
  return check_against_schema("expert ffn.3.17", "input", kInputs, tensors, rows).message();
}

TEST(SchemaCheck, AcceptsMatchingTensorsAndReturnsTheirRows) {
  const std::vector<Tensor> tensors = {Tensor::zeros(Shape{8, 1024}),
                                       Tensor::zeros(Shape{8, 4, 2}, DType::kU8)};
  const Result<int64_t> rows = check_against_schema("expert ffn.3.17", "input", kInputs, tensors);
  ASSERT_TRUE(rows.is_ok()) << rows.message();
  EXPECT_EQ(rows.value(), 8);
}

TEST(SchemaCheck, NamesAWrongDimension) {
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 512}), Tensor::zeros(Shape{8, 4, 2}, DType::kU8)}),
            "expert ffn.3.17: input 0 has shape [8, 512], expected [*, 1024] (dimension 1)");
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024}), Tensor::zeros(Shape{8, 4, 3}, DType::kU8)}),
            "expert ffn.3.17: input 1 has shape [8, 4, 3], expected [*, 4, 2] (dimension 2)");
}

TEST(SchemaCheck, NamesAWrongRank) {
  EXPECT_EQ(error_of({Tensor::zeros(Shape{1024}), Tensor::zeros(Shape{1, 4, 2}, DType::kU8)}),
            "expert ffn.3.17: input 0 has shape [1024], expected [*, 1024] (rank 1, expected 2)");
  EXPECT_EQ(error_of({Tensor::scalar(1.0), Tensor::zeros(Shape{1, 4, 2}, DType::kU8)}),
            "expert ffn.3.17: input 0 has shape [], expected [*, 1024] (rank 0, expected 2)");
}

TEST(SchemaCheck, NamesAWrongDtype) {
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024}), Tensor::zeros(Shape{8, 4, 2})}),
            "expert ffn.3.17: input 1 has dtype f32, expected u8");
}

TEST(SchemaCheck, NamesAWrongCountAndAMissingTensor) {
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024})}), "expert ffn.3.17: got 1 inputs, expected 2");
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024}), Tensor()}),
            "expert ffn.3.17: input 1 is missing (undefined)");
}

TEST(SchemaCheck, RequiresOneBatchDimensionForTheWholeCall) {
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024}), Tensor::zeros(Shape{7, 4, 2}, DType::kU8)}),
            "expert ffn.3.17: input 1 has 7 rows, expected 8 like the rest of the call");
  EXPECT_EQ(error_of({Tensor::zeros(Shape{8, 1024}), Tensor::zeros(Shape{8, 4, 2}, DType::kU8)}, 9),
            "expert ffn.3.17: input 0 has 8 rows, expected 9 like the rest of the call");
}

}  // namespace
}  // namespace hive::moe
