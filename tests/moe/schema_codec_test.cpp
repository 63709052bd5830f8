// An expert's schema as bytes: round trips, and the refusal of every malformed field.
#include "moe/experts/schema_codec.h"

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "moe/schema/expert_schema_generated.h"

namespace hive::moe {
namespace {

namespace fb = flatbuffers;

const ExpertSchema kTransformerLike = {
    .inputs = {{DType::kF32, Shape{128, 64}}, {DType::kU8, Shape{128}}},
    .outputs = {{DType::kF32, Shape{128, 64}}}};

std::vector<std::byte> bytes_of(const fb::FlatBufferBuilder& builder) {
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return {begin, begin + builder.GetSize()};
}

// A schema buffer with one input of the given wire dtype and row shape, and one f32 [*, 4]
// output: what a peer that does not follow the rules could send.
std::vector<std::byte> schema_with_input(wire::DType dtype, const std::vector<int64_t>& row_shape) {
  fb::FlatBufferBuilder builder;
  const auto input = wire::CreateTensorSchema(builder, dtype, builder.CreateVector(row_shape));
  const auto output = wire::CreateTensorSchema(builder, wire::DType::F32,
                                               builder.CreateVector(std::vector<int64_t>{4}));
  const auto inputs = builder.CreateVector(std::vector{input});
  const auto outputs = builder.CreateVector(std::vector{output});
  builder.Finish(wire::CreateExpertSchema(builder, inputs, outputs),
                 wire::ExpertSchemaIdentifier());
  return bytes_of(builder);
}

TEST(SchemaCodec, RoundTripsEveryDtypeAndShape) {
  EXPECT_EQ(decode_expert_schema(encode_expert_schema(kTransformerLike)).value(), kTransformerLike);
  const ExpertSchema every_dtype = {.inputs = {{DType::kF32, Shape{1}},
                                               {DType::kF16, Shape{2, 3}},
                                               {DType::kBF16, Shape{}},
                                               {DType::kI32, Shape{7}},
                                               {DType::kI64, Shape{1, 1, 1, 1, 1, 1, 1}}},
                                    .outputs = {{DType::kU8, Shape{5}}}};
  EXPECT_EQ(decode_expert_schema(encode_expert_schema(every_dtype)).value(), every_dtype);
}

TEST(SchemaCodec, DecodesFromAMisalignedSlice) {
  const std::vector<std::byte> encoded = encode_expert_schema(kTransformerLike);
  std::vector<std::byte> shifted(encoded.size() + 1);
  std::memcpy(shifted.data() + 1, encoded.data(), encoded.size());
  const std::span<const std::byte> slice(shifted.data() + 1, encoded.size());
  EXPECT_EQ(decode_expert_schema(slice).value(), kTransformerLike);
}

TEST(SchemaCodec, RefusesBytesWithoutTheFileIdentifier) {
  const std::vector<std::byte> short_buffer(4);
  EXPECT_EQ(decode_expert_schema(short_buffer).message(),
            "expert schema of 4 bytes lacks the file identifier HXS1");
  std::vector<std::byte> other = encode_expert_schema(kTransformerLike);
  other[4] = std::byte{'X'};
  EXPECT_NE(decode_expert_schema(other).message().find("lacks the file identifier HXS1"),
            std::string::npos);
}

TEST(SchemaCodec, RefusesABufferThatFailsVerification) {
  std::vector<std::byte> broken = encode_expert_schema(kTransformerLike);
  broken[0] = std::byte{0xff};  // the root offset now points far outside the buffer
  broken[1] = std::byte{0xff};
  const Result<ExpertSchema> decoded = decode_expert_schema(broken);
  EXPECT_EQ(decoded.message(),
            str_cat("expert schema of ", broken.size(), " bytes fails FlatBuffers verification"));
}

TEST(SchemaCodec, RefusesAnUnknownDtype) {
  EXPECT_EQ(decode_expert_schema(schema_with_input(static_cast<wire::DType>(9), {4})).message(),
            "expert schema: input 0 has unknown dtype 9");
}

TEST(SchemaCodec, RefusesNonPositiveRowDimensions) {
  EXPECT_EQ(decode_expert_schema(schema_with_input(wire::DType::F32, {4, 0})).message(),
            "expert schema: input 0 has row dimension 1 of size 0, expected a positive size");
  EXPECT_EQ(decode_expert_schema(schema_with_input(wire::DType::F32, {-3})).message(),
            "expert schema: input 0 has row dimension 0 of size -3, expected a positive size");
}

TEST(SchemaCodec, RefusesRowShapesWithoutRoomForTheBatchDimension) {
  EXPECT_EQ(decode_expert_schema(schema_with_input(wire::DType::F32, std::vector<int64_t>(8, 1)))
                .message(),
            "expert schema: input 0 has a row shape of rank 8, expected below 8 (the batch "
            "dimension comes on top)");
}

TEST(SchemaCodec, RefusesRowsWhoseElementCountOverflows) {
  EXPECT_EQ(
      decode_expert_schema(schema_with_input(wire::DType::F32, {1LL << 32, 1LL << 32})).message(),
      "expert schema: input 0 has a row of more than 9223372036854775807 elements");
}

TEST(SchemaCodec, RefusesMissingOrTooManyTensors) {
  fb::FlatBufferBuilder builder;
  const auto output = wire::CreateTensorSchema(builder, wire::DType::F32,
                                               builder.CreateVector(std::vector<int64_t>{4}));
  const auto outputs = builder.CreateVector(std::vector(kMaxSchemaTensors + 1, output));
  builder.Finish(wire::CreateExpertSchema(builder, 0, outputs), wire::ExpertSchemaIdentifier());
  EXPECT_EQ(decode_expert_schema(bytes_of(builder)).message(),
            "expert schema: 0 inputs, expected 1 to 64");

  ExpertSchema too_many = kTransformerLike;
  too_many.outputs.assign(kMaxSchemaTensors + 1, {DType::kF32, Shape{4}});
  EXPECT_EQ(decode_expert_schema(encode_expert_schema(too_many)).message(),
            "expert schema: 65 outputs, expected 1 to 64");
}

TEST(TensorSchema, PrintsTheBatchDimensionAsAStar) {
  const TensorSchema schema{DType::kF32, Shape{128, 1024}};
  EXPECT_EQ(batch_shape_string(schema), "[*, 128, 1024]");
  std::ostringstream out;
  out << schema;
  EXPECT_EQ(out.str(), "f32 [*, 128, 1024]");
  EXPECT_EQ(schema.batch_shape(8), (Shape{8, 128, 1024}));
}

}  // namespace
}  // namespace hive::moe
