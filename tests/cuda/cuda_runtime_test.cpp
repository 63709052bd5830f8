// The CUDA runtime under the kernels: copies between host and device (through chunked pinned
// staging), device-to-device clones, out-of-memory and missing-device errors, per-thread streams
// and the device queries.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda.h"
#include "engine/core/counter_random.h"
#include "engine/ops/matmul.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_relative_close;
using testing::random_input;
using testing::throws_error;

constexpr int64_t kStagingChunk = int64_t{8} << 20;  // cuda/runtime/stream_slots.h

// A u8 CPU tensor of `count` pseudo-random bytes (every bit pattern occurs, unlike in a ramp).
Tensor random_bytes(int64_t count, uint64_t seed) {
  std::vector<uint8_t> bytes(static_cast<size_t>(count));
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<uint8_t>(random_bits(seed, i) >> 56);
  }
  return Tensor::from_vector(bytes, Shape{count});
}

// Same dtype, shape and bytes; a mismatch reports its first byte (printing 40 MiB would not
// help anyone).
void expect_same_bytes(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.shape(), expected.shape());
  const Tensor got = actual.to(Device::cpu());
  const Tensor want = expected.to(Device::cpu());
  const auto* got_bytes = static_cast<const uint8_t*>(got.raw_data());
  const auto* want_bytes = static_cast<const uint8_t*>(want.raw_data());
  for (size_t i = 0; i < want.nbytes(); ++i) {
    if (got_bytes[i] != want_bytes[i]) {
      ADD_FAILURE() << "byte " << i << " of " << want.nbytes() << " is "
                    << static_cast<int>(got_bytes[i]) << ", expected "
                    << static_cast<int>(want_bytes[i]);
      return;
    }
  }
}

class CudaRuntimeTest : public testing::CudaTest {};

TEST_F(CudaRuntimeTest, RoundTripIsBitExactAcrossStagingChunkBoundaries) {
  // Sizes around the 8 MiB staging chunk: nothing, a few bytes, exactly one chunk, one chunk
  // and a ragged tail, and five chunks (both staging buffers reused twice).
  for (const int64_t count : {int64_t{0}, int64_t{1}, int64_t{3}, kStagingChunk,
                              kStagingChunk + 3, 5 * kStagingChunk}) {
    SCOPED_TRACE(::testing::Message() << count << " bytes");
    const Tensor host = random_bytes(count, static_cast<uint64_t>(count) + 1);
    const Tensor device = host.to(gpu());
    EXPECT_EQ(device.device(), gpu());
    expect_same_bytes(device.to(Device::cpu()), host);
  }
}

TEST_F(CudaRuntimeTest, RoundTripKeepsEveryFloatBitPattern) {
  // f32 elements of an odd count whose bytes are arbitrary: NaN payloads, subnormals and
  // negative zero must come back untouched.
  const Tensor bytes = random_bytes(4 * 1001, 7);
  const Tensor host = Tensor::from_blob(bytes.raw_data(), Shape{1001}, DType::kF32, nullptr).clone();
  expect_same_bytes(host.to(gpu()).to(Device::cpu()), host);
}

TEST_F(CudaRuntimeTest, CloneOnTheDeviceCopiesIntoNewMemory) {
  const Tensor host = random_bytes(kStagingChunk + 3, 11);
  const Tensor original = host.to(gpu());
  const Tensor copy = original.clone();
  EXPECT_EQ(copy.device(), gpu());
  EXPECT_NE(copy.raw_data(), original.raw_data());
  expect_same_bytes(copy, host);

  // copy_from between two device tensors, and a float tensor so element size is not one byte.
  const Tensor values = random_input(Shape{37, 129}, 12);
  const Tensor target = Tensor::empty(values.shape(), DType::kF32, gpu());
  target.copy_from(values.to(gpu()));
  expect_same_bytes(target, values);
}

TEST_F(CudaRuntimeTest, ImpossibleAllocationThrowsOutOfMemoryAndStaysUsable) {
  EXPECT_TRUE(throws_error([&] { Tensor::empty(Shape{int64_t{1} << 50}, DType::kU8, gpu()); },
                           {"out of memory", "free"}));
  // The failure must not leave a sticky CUDA error behind: the next allocation and copy work.
  const Tensor host = random_bytes(1000, 13);
  expect_same_bytes(host.to(gpu()), host);
}

TEST_F(CudaRuntimeTest, TensorOnAMissingDeviceNamesIt) {
  const Device missing = Device::cuda(cuda::device_count());
  EXPECT_TRUE(throws_error([&] { Tensor::empty(Shape{4}, DType::kF32, missing); },
                           {missing.str()}));
  EXPECT_TRUE(throws_error([&] { random_input(Shape{4}, 14).to(missing); }, {missing.str()}));
}

TEST_F(CudaRuntimeTest, ThreadsWorkingConcurrentlyGetTheirOwnResults) {
  // Each thread gets its own stream slot; results copied back must be those of its own
  // products even while the other threads' work is in flight.
  constexpr int kThreads = 4;
  constexpr int kRounds = 8;
  std::vector<Tensor> a(kThreads);
  std::vector<Tensor> b(kThreads);
  std::vector<Tensor> expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    a[static_cast<size_t>(t)] = random_input(Shape{67, 129 + t}, static_cast<uint64_t>(100 + t));
    b[static_cast<size_t>(t)] = random_input(Shape{129 + t, 45}, static_cast<uint64_t>(200 + t));
    expected[static_cast<size_t>(t)] = matmul(a[static_cast<size_t>(t)], b[static_cast<size_t>(t)]);
  }
  std::vector<std::vector<Tensor>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto index = static_cast<size_t>(t);
      try {
        for (int round = 0; round < kRounds; ++round) {
          const Tensor product = matmul(a[index].to(gpu()), b[index].to(gpu()));
          results[index].push_back(product.to(Device::cpu()));
        }
      } catch (const Error& error) {
        errors[index] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t t = 0; t < kThreads; ++t) {
    SCOPED_TRACE(::testing::Message() << "thread " << t);
    EXPECT_EQ(errors[t], "");
    ASSERT_EQ(results[t].size(), static_cast<size_t>(kRounds));
    for (const Tensor& result : results[t]) {
      expect_relative_close(result, expected[t], testing::kF32Tolerance);
    }
  }
}

TEST_F(CudaRuntimeTest, SynchronizeAcceptsOnlyCudaDevices) {
  EXPECT_NO_THROW(cuda::synchronize(gpu()));
  EXPECT_TRUE(throws_error([] { cuda::synchronize(Device::cpu()); }, {"cpu"}));
}

TEST_F(CudaRuntimeTest, DescribesTheDevice) {
  const std::string description = cuda::describe_device(0);
  EXPECT_NE(description.find("sm_"), std::string::npos) << description;
  EXPECT_NE(description.find("GiB"), std::string::npos) << description;
}

TEST_F(CudaRuntimeTest, ParsesCudaDeviceNames) {
  EXPECT_EQ(Device::parse("cuda:0"), gpu());
  EXPECT_EQ(Device::parse("cuda"), gpu());
  EXPECT_EQ(Device::parse(gpu().str()), gpu());
  EXPECT_EQ(random_input(Shape{3}, 15).to(Device::parse("cuda:0")).device(), gpu());
}

}  // namespace
}  // namespace hive
