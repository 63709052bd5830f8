// The expert RPC's codecs: call metadata, the info reply, and engine tensors to and from the
// wire. Every decoder is fed malformed bytes and must answer with a clear error.
#include <gtest/gtest.h>

#include <cstring>

#include "moe/experts/schema_codec.h"
#include "moe/protocol/expert_call.h"
#include "moe/protocol/expert_info.h"
#include "moe/protocol/tensor_wire.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::random_tensor;

TEST(ExpertCall, RoundTripsTheUid) {
  const ExpertUid uid = ExpertUid::parse("ffn.3.17").value();
  EXPECT_EQ(decode_expert_call(encode_expert_call(uid)).value(), uid);
}

TEST(ExpertCall, RejectsForeignAndTruncatedBytes) {
  const std::vector<std::byte> foreign(16, std::byte{0x5a});
  EXPECT_NE(decode_expert_call(foreign).message().find("not an ExpertCall"), std::string::npos);
  std::vector<std::byte> bytes = encode_expert_call(ExpertUid::parse("ffn.1").value());
  bytes.resize(bytes.size() - 4);
  EXPECT_FALSE(decode_expert_call(bytes).is_ok());
  EXPECT_FALSE(decode_expert_call({}).is_ok());
}

TEST(ExpertInfo, RoundTripsSchemaAndMaxBatchSize) {
  const ExpertInfo info{{.inputs = {{DType::kF32, Shape{8}}, {DType::kU8, Shape{8}}},
                         .outputs = {{DType::kF32, Shape{8}}}},
                        512};
  EXPECT_EQ(decode_expert_info(encode_expert_info(info)).value(), info);
}

TEST(ExpertInfo, RejectsANonPositiveMaxBatchSize) {
  const ExpertInfo info{{.inputs = {{DType::kF32, Shape{8}}}, .outputs = {{DType::kF32, Shape{8}}}},
                        0};
  EXPECT_EQ(decode_expert_info(encode_expert_info(info)).message(),
            "expert info: max batch size 0, expected a positive number of rows");
}

TEST(TensorWire, EveryDtypeRoundTripsUncompressed) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32, DType::kI64,
                      DType::kU8}) {
    const Tensor tensor = random_tensor(Shape{3, 5}, 1, 10.0f).to(dtype);
    const net::WireTensor wire = to_wire_tensor(tensor, net::Compression::kNone).value();
    EXPECT_EQ(wire.bytes.data(), tensor.raw_data()) << dtype << ": sent without a copy";
    const Tensor back = from_wire_tensor(wire).value();
    ASSERT_EQ(back.dtype(), dtype);
    ASSERT_EQ(back.shape(), tensor.shape());
    EXPECT_EQ(std::memcmp(back.raw_data(), tensor.raw_data(), tensor.nbytes()), 0) << dtype;
  }
}

TEST(TensorWire, CompressionAppliesToFloatingTensorsOnly) {
  EXPECT_EQ(compression_for(DType::kI64, net::Compression::kBlockwise8Bit),
            net::Compression::kNone);
  EXPECT_EQ(compression_for(DType::kF16, net::Compression::kFloat16), net::Compression::kNone);
  EXPECT_EQ(compression_for(DType::kBF16, net::Compression::kUniform8Bit),
            net::Compression::kUniform8Bit);
  const Tensor x = random_tensor(Shape{4, 6}, 2);
  const net::WireTensor wire = to_wire_tensor(x, net::Compression::kBFloat16).value();
  EXPECT_EQ(wire.compression, net::Compression::kBFloat16);
  EXPECT_EQ(wire.bytes.size(), x.nbytes() / 2);
  hive::testing::expect_close(from_wire_tensor(wire).value(), x, 0.0, 1.0 / 128);
}

TEST(TensorWire, TruncatedCompressedBytesAreAnError) {
  const net::WireTensor good =
      to_wire_tensor(random_tensor(Shape{4, 6}, 2), net::Compression::kFloat16).value();
  net::WireTensor bad = good;
  bad.bytes = good.bytes.first(good.bytes.size() - 2);
  Result<Tensor> decoded = from_wire_tensor(bad);
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_NE(decoded.message().find("tensor f32 [4, 6] from the wire"), std::string::npos)
      << decoded.message();
}

TEST(TensorWire, RankAboveTheEnginesLimitIsAnError) {
  net::WireTensor wire;
  wire.descriptor = {net::WireDType::kF32, std::vector<int64_t>(9, 1)};
  EXPECT_EQ(wire_signature(wire, 2).message(), "tensor 2 has rank 9, expected at most 8");
}

}  // namespace
}  // namespace hive::moe
