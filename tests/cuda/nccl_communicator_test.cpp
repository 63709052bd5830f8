// GpuGroup (cuda/nccl): NCCL all-reduce across this host's GPUs, against the sums computed on
// the CPU from the same inputs, and its input checks. Most cases need two GPUs and skip below
// that; the group of one device runs on any GPU machine.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/cuda.h"
#include "cuda/nccl/communicator.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive::cuda {

// For gtest's names of the parameterized cases (found by argument-dependent lookup).
void PrintTo(Reduction reduction, std::ostream* out) {
  *out << (reduction == Reduction::kSum ? "Sum" : "Average");
}

}  // namespace hive::cuda

namespace hive {
namespace {

using cuda::GpuGroup;
using cuda::Reduction;
using testing::expect_relative_close;
using testing::random_input;
using testing::throws_error;

using TensorLists = std::vector<std::vector<Tensor>>;

// An odd count past any power of two (NCCL splits buffers into chunks), one element, a matrix.
const std::vector<Shape> kShapes = {Shape{1000003}, Shape{1}, Shape{37, 129}};

// NCCL sums f32 in f32 in whatever order its ring or tree takes.
constexpr double kF32SumTolerance = 1e-6;

// inputs[d][i]: tensor i of the group's device d, on the CPU.
TensorLists random_inputs(size_t devices, DType dtype) {
  TensorLists inputs(devices);
  for (size_t d = 0; d < devices; ++d) {
    for (size_t i = 0; i < kShapes.size(); ++i) {
      inputs[d].push_back(random_input(kShapes[i], 1000 * d + i, dtype));
    }
  }
  return inputs;
}

TensorLists on_devices(const TensorLists& inputs, const std::vector<int>& devices) {
  TensorLists placed(inputs.size());
  for (size_t d = 0; d < inputs.size(); ++d) {
    for (const Tensor& input : inputs[d]) placed[d].push_back(input.to(Device::cuda(devices[d])));
  }
  return placed;
}

// Tensor i summed over the devices in double, times `factor` (1/n for the average), in f32.
Tensor reduced_on_cpu(const TensorLists& inputs, size_t i, double factor) {
  std::vector<double> sum(static_cast<size_t>(inputs[0][i].numel()), 0.0);
  for (const std::vector<Tensor>& tensors : inputs) {
    const std::vector<float> values = tensors[i].to(DType::kF32).to_vector<float>();
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += values[k];
  }
  std::vector<float> result(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) result[k] = static_cast<float>(sum[k] * factor);
  return Tensor::from_vector(result, inputs[0][i].shape());
}

class NcclCommunicatorTest : public testing::CudaTest {
 protected:
  void SetUp() override {
    testing::CudaTest::SetUp();
    if (IsSkipped()) return;
    const int count = cuda::device_count();
    if (count < 2) GTEST_SKIP() << "needs at least 2 GPUs; this machine has " << count;
  }
};

class NcclAllReduceTest : public NcclCommunicatorTest,
                          public ::testing::WithParamInterface<std::tuple<DType, Reduction>> {};

TEST_P(NcclAllReduceTest, EveryGpuGetsTheReductionComputedOnTheCpu) {
  const auto [dtype, reduction] = GetParam();
  GpuGroup group;
  const std::vector<int>& devices = group.devices();
  const TensorLists inputs = random_inputs(devices.size(), dtype);
  const TensorLists tensors = on_devices(inputs, devices);

  group.all_reduce(tensors, reduction);

  const double factor =
      reduction == Reduction::kSum ? 1.0 : 1.0 / static_cast<double>(devices.size());
  const double tolerance = dtype == DType::kF32 ? kF32SumTolerance : testing::kBF16Tolerance;
  for (size_t i = 0; i < kShapes.size(); ++i) {
    const Tensor expected = reduced_on_cpu(inputs, i, factor);
    for (size_t d = 0; d < devices.size(); ++d) {
      SCOPED_TRACE(::testing::Message() << "tensor " << i << " on cuda:" << devices[d]);
      EXPECT_EQ(tensors[d][i].dtype(), dtype);
      expect_relative_close(tensors[d][i], expected, tolerance);
    }
  }
}

std::string dtype_and_reduction(
    const ::testing::TestParamInfo<std::tuple<DType, Reduction>>& info) {
  const auto [dtype, reduction] = info.param;
  return std::string(dtype_name(dtype)) + ::testing::PrintToString(reduction);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NcclAllReduceTest,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16,
                                                              DType::kBF16),
                                            ::testing::Values(Reduction::kSum,
                                                              Reduction::kAverage)),
                         dtype_and_reduction);

TEST_F(NcclCommunicatorTest, ShapesThatDifferAcrossGpusAreRejected) {
  GpuGroup group({0, 1});
  TensorLists tensors = on_devices(random_inputs(2, DType::kF32), group.devices());
  tensors[1][1] = Tensor::zeros(Shape{2}, DType::kF32, Device::cuda(1));
  EXPECT_TRUE(throws_error([&] { group.all_reduce(tensors, Reduction::kSum); },
                           {"GpuGroup::all_reduce", "tensor 1", "[2] on cuda:1", "[1] on cuda:0"}));
}

TEST_F(NcclCommunicatorTest, TensorOnAnotherGpuIsRejected) {
  GpuGroup group({0, 1});
  TensorLists tensors = on_devices(random_inputs(2, DType::kF32), group.devices());
  tensors[1][2] = tensors[1][2].to(Device::cuda(0));
  EXPECT_TRUE(throws_error([&] { group.all_reduce(tensors, Reduction::kSum); },
                           {"GpuGroup::all_reduce", "tensor 2 of cuda:1", "is on cuda:0"}));
}

// The cases below need one GPU only.
class SingleGpuGroupTest : public testing::CudaTest {};

TEST_F(SingleGpuGroupTest, GroupOfOneGpuLeavesTensorsAsTheyAre) {
  GpuGroup group({0});
  const TensorLists inputs = random_inputs(1, DType::kF32);
  for (const Reduction reduction : {Reduction::kSum, Reduction::kAverage}) {
    const TensorLists tensors = on_devices(inputs, group.devices());
    group.all_reduce(tensors, reduction);
    for (size_t i = 0; i < kShapes.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "tensor " << i);
      expect_relative_close(tensors[0][i], inputs[0][i], 0.0);
    }
  }
}

TEST_F(SingleGpuGroupTest, CpuTensorIsRejected) {
  GpuGroup group({0});
  const TensorLists tensors = {{Tensor::zeros(Shape{4})}};
  EXPECT_TRUE(throws_error([&] { group.all_reduce(tensors, Reduction::kSum); },
                           {"GpuGroup::all_reduce", "tensor 0 of cuda:0", "is on cpu"}));
}

TEST_F(SingleGpuGroupTest, IntegerTensorIsRejected) {
  GpuGroup group({0});
  const TensorLists tensors = {{Tensor::zeros(Shape{4}, DType::kI64, gpu())}};
  EXPECT_TRUE(throws_error([&] { group.all_reduce(tensors, Reduction::kSum); },
                           {"GpuGroup::all_reduce", "tensor 0 of cuda:0", "dtype i64"}));
}

TEST_F(SingleGpuGroupTest, TensorListsForMoreGpusThanTheGroupAreRejected) {
  GpuGroup group({0});
  const TensorLists tensors(2);
  EXPECT_TRUE(throws_error([&] { group.all_reduce(tensors, Reduction::kSum); },
                           {"GpuGroup::all_reduce", "tensor lists for 2 devices", "has 1"}));
}

TEST_F(SingleGpuGroupTest, DeviceListedTwiceIsRejected) {
  EXPECT_TRUE(throws_error([] { GpuGroup group({0, 0}); }, {"GpuGroup", "cuda:0", "twice"}));
}

TEST_F(SingleGpuGroupTest, MissingDeviceIsRejected) {
  const int count = cuda::device_count();
  EXPECT_TRUE(throws_error([&] { GpuGroup group({count}); },
                           {"GpuGroup", "cuda:" + std::to_string(count), "does not exist"}));
}

}  // namespace
}  // namespace hive
