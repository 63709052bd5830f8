#include "engine/core/backward_epilogues.h"

#include "engine/core/error.h"

namespace hive {

void check_backward_epilogue(const GemmArgs& args) {
  const bool bias_gradient = args.epilogue == GemmEpilogue::kBiasGradient;
  HIVE_CHECK(is_backward_epilogue(args.epilogue), "gemm: epilogue ",
             static_cast<int>(args.epilogue), " is not a backward epilogue");
  HIVE_CHECK(args.batch == 1 && !args.bias.defined(), "gemm: a backward epilogue needs batch 1 "
             "and no bias; got batch ", args.batch, args.bias.defined() ? " with a bias" : "");
  // The bias gradient of kBiasGradient is read from a itself, so a must be exactly op(a).
  HIVE_CHECK(!bias_gradient || (args.bias_grad.defined() && args.a.numel() == args.m * args.k),
             "gemm: the bias-gradient epilogue needs bias_grad and an a of ", args.m * args.k,
             " elements; got a of ", args.a.numel());
  HIVE_CHECK(bias_gradient ||
                 (args.pre_activation.defined() && args.pre_activation.numel() == args.out.numel() &&
                  args.pre_activation.dtype() == args.out.dtype()),
             "gemm: the GELU-backward epilogue needs a pre_activation of out's shape ",
             args.out.shape(), " and dtype ", args.out.dtype());
  if (args.bias_grad.defined()) {
    const int64_t length = bias_gradient ? args.m : args.n;
    HIVE_CHECK(args.bias_grad.numel() == length && args.bias_grad.dtype() == args.out.dtype(),
               "gemm: bias_grad has shape ", args.bias_grad.shape(), " and dtype ",
               args.bias_grad.dtype(), "; expected [", length, "] of ", args.out.dtype());
  }
}

void apply_backward_epilogue(Backend& backend, const GemmArgs& args) {
  // Views made here must not be recorded: these are gradients, not graph values.
  const Tensor bias_grad = args.bias_grad.defined() ? args.bias_grad.detach() : Tensor();
  if (args.epilogue == GemmEpilogue::kBiasGradient) {
    const Tensor a = args.a.detach();
    if (args.transpose_a == Transpose::kYes) {
      // a is stored [k, m]: the bias gradient is its column sums (as linear's sum_to(dy)).
      backend.sum_to(a.reshape(Shape{args.k, args.m}), bias_grad.reshape(Shape{args.m}));
    } else {
      // a is stored [m, k]: its row sums, summed into an [m, 1] column.
      backend.sum_to(a.reshape(Shape{args.m, args.k}), bias_grad.reshape(Shape{args.m, 1}));
    }
    return;
  }
  const Tensor out = args.out.detach().reshape(Shape{args.m, args.n});
  const Tensor pre_activation = args.pre_activation.detach().reshape(Shape{args.m, args.n});
  // In place; GELU's derivative reads only its input, so the pre-activation also stands in for
  // the forward's output (unary_backward's y).
  backend.unary_backward(UnaryOp::kGelu, out, pre_activation, pre_activation, out);
  if (bias_grad.defined()) backend.sum_to(out, bias_grad.reshape(Shape{args.n}));
}

}  // namespace hive
