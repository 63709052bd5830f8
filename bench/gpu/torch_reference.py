#!/usr/bin/env python3
"""Times the cases of cuda_kernels_bench in PyTorch on the same GPU; writes their times as JSON.

Every case name is the Google Benchmark name of hive's case ("Family/key:value/..."); the family
picks the twin below and the key:value parts give its shapes, so both sides compute the same thing
on the same shapes (bench/README.md, "GPU kernels", lists the cases). CASES is the list
cuda_kernels_bench registers: change both together.

Timing: each case runs WARMUP times untimed, then in windows of at least --min-time seconds; each
iteration ends with torch.cuda.synchronize() (as hive's ends with hive::cuda::synchronize), the
window is timed with torch.cuda.Event, and the median window of --repeats is kept. Output:
{"seconds": {case name: seconds per iteration}, "torch_version", "device", ...}; a case that
fails (out of memory, ...) lands in "errors" instead.
"""

import argparse
import json
import re
import statistics
import sys

import torch
import torch.nn.functional as F

SEED = 2020
WARMUP = 2
DEVICE = "cuda"

# The names cuda_kernels_bench registers (without Google Benchmark's "/real_time" suffix).
CASES = [
    "MatmulPeak/dtype:bf16/n:8192",
    "MatmulPeak/dtype:f32/n:4096",
    "DeviceCopy/mib:1024",
    "LinearForward/dtype:f32/rows:16384/in:1024/out:4096",
    "LinearForwardBackward/dtype:f32/rows:16384/in:1024/out:4096",
    "FeedForwardForwardBackward/dtype:f32/rows:16384/in:1024/hidden:4096",
    "LayerNormForward/dtype:f32/rows:16384/features:1024",
    "LayerNormForwardBackward/dtype:f32/rows:16384/features:1024",
    "LinearForward/dtype:bf16/rows:16384/in:1024/out:4096",
    "LinearForwardBackward/dtype:bf16/rows:16384/in:1024/out:4096",
    "FeedForwardForwardBackward/dtype:bf16/rows:16384/in:1024/hidden:4096",
    "LayerNormForward/dtype:bf16/rows:16384/features:1024",
    "LayerNormForwardBackward/dtype:bf16/rows:16384/features:1024",
    "SoftmaxForwardBackward/dtype:f32/rows:8192/classes:32000",
    "CrossEntropyForwardBackward/dtype:f32/rows:8192/classes:32000",
    "AdamStep/tensors:100/numel:100000000",
    "TopK/rows:16384/experts:64/k:2",
    "MoeDispatchCombine/dtype:bf16/tokens:16384/d_model:1024/experts:64/k:2",
    "GroupedFfnForwardBackward/dtype:bf16/tokens:16384/d_model:1024/d_ff:4096/experts:64/k:2",
    "AttentionForwardBackward/dtype:bf16/batch:8/seq:1024/heads:16/head_dim:64",
    "LocalMoeForwardBackward/dtype:f32/tokens:16384/d_model:1024/d_ff:4096/experts:64/k:2",
]

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def parse_case(name):
    """ "LinearForward/dtype:bf16/rows:16384"
    -> ("LinearForward", {"dtype": "bf16", "rows": 16384}); a "/real_time" suffix is dropped."""
    family, *parts = name.removesuffix("/real_time").split("/")
    args = {}
    for part in parts:
        key, value = part.split(":", 1)
        args[key] = int(value) if value.isdigit() else value
    return family, args


# --- the twins: each returns a function that runs one iteration --------------------------------


def randn(*shape, dtype=torch.float32, requires_grad=False):
    return torch.randn(*shape, device=DEVICE, dtype=dtype, requires_grad=requires_grad)


def matmul_peak(dtype, n):
    a, b = randn(n, n, dtype=dtype), randn(n, n, dtype=dtype)
    return lambda: torch.matmul(a, b)


def device_copy(mib):
    elements = mib * 2**20 // 2  # bf16
    src = torch.ones(elements, device=DEVICE, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def linear_forward(dtype, rows, in_features, out_features):
    x = randn(rows, in_features, dtype=dtype)
    weight, bias = randn(out_features, in_features, dtype=dtype), randn(out_features, dtype=dtype)

    def run():
        with torch.no_grad():
            F.linear(x, weight, bias)
    return run


def forward_backward(forward, leaves, probe):
    """Drop every leaf's gradient, run forward, backward of `probe` (None: a scalar loss)."""
    def run():
        for leaf in leaves:
            leaf.grad = None
        out = forward()
        out.backward(probe)
    return run


def linear_forward_backward(dtype, rows, in_features, out_features):
    x = randn(rows, in_features, dtype=dtype, requires_grad=True)
    weight = randn(out_features, in_features, dtype=dtype, requires_grad=True)
    bias = randn(out_features, dtype=dtype, requires_grad=True)
    probe = randn(rows, out_features, dtype=dtype)
    return forward_backward(lambda: F.linear(x, weight, bias), [x, weight, bias], probe)


def feed_forward_forward_backward(dtype, rows, in_features, hidden):
    """hive's feed_forward: Linear(in, hidden) -> GELU (tanh) -> Linear(hidden, in), every
    tensor requiring grad, backward of a probe."""
    x = randn(rows, in_features, dtype=dtype, requires_grad=True)
    w1 = randn(hidden, in_features, dtype=dtype, requires_grad=True)
    b1 = randn(hidden, dtype=dtype, requires_grad=True)
    w2 = randn(in_features, hidden, dtype=dtype, requires_grad=True)
    b2 = randn(in_features, dtype=dtype, requires_grad=True)
    probe = randn(rows, in_features, dtype=dtype)

    def forward():
        return F.linear(F.gelu(F.linear(x, w1, b1), approximate="tanh"), w2, b2)
    return forward_backward(forward, [x, w1, b1, w2, b2], probe)


def layer_norm_leaves(dtype, rows, features, requires_grad):
    x = randn(rows, features, dtype=dtype, requires_grad=requires_grad)
    weight = torch.ones(features, device=DEVICE, dtype=dtype, requires_grad=requires_grad)
    bias = torch.zeros(features, device=DEVICE, dtype=dtype, requires_grad=requires_grad)
    return x, weight, bias


def layer_norm_forward(dtype, rows, features):
    x, weight, bias = layer_norm_leaves(dtype, rows, features, requires_grad=False)
    return lambda: F.layer_norm(x, (features,), weight, bias, eps=1e-5)


def layer_norm_forward_backward(dtype, rows, features):
    x, weight, bias = layer_norm_leaves(dtype, rows, features, requires_grad=True)
    probe = randn(rows, features, dtype=dtype)
    return forward_backward(lambda: F.layer_norm(x, (features,), weight, bias, eps=1e-5),
                            [x, weight, bias], probe)


def softmax_forward_backward(dtype, rows, classes):
    x = randn(rows, classes, dtype=dtype, requires_grad=True)
    probe = randn(rows, classes, dtype=dtype)
    return forward_backward(lambda: torch.softmax(x, dim=-1), [x], probe)


def cross_entropy_forward_backward(dtype, rows, classes):
    logits = randn(rows, classes, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, classes, (rows,), device=DEVICE, dtype=torch.int64)
    return forward_backward(lambda: F.cross_entropy(logits, labels), [logits], None)


def adam_step(tensors, fused=False):
    """AdamW as hive's case: `tensors` f32 parameters of [1000, 1000] with fixed gradients.
    torch's default on CUDA is the multi-tensor (foreach) implementation; fused=True is its
    single-kernel one, timed as a variant."""
    params = []
    for _ in range(tensors):
        param = randn(1000, 1000, requires_grad=True)
        param.grad = randn(1000, 1000)
        params.append(param)
    optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                                  **({"fused": True} if fused else {}))
    return optimizer.step


def top_k(rows, experts, k):
    scores = randn(rows, experts)
    return lambda: torch.topk(scores, k, dim=-1)


MASK64 = (1 << 64) - 1


def splitmix64(counter):
    z = (counter + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def skewed_routing(tokens, experts, k):
    """cuda_kernels_bench's skewed_routing(), number for number: [tokens, k] int64 expert choices
    on the CPU. Each draw u (uniform in [0, 1), from splitmix64 of consecutive counters from SEED)
    picks expert floor(experts * u^2); a token redraws until its k experts are distinct."""
    indices, counter = [], SEED
    for _ in range(tokens):
        row = []
        while len(row) < k:
            u = (splitmix64(counter) >> 11) * 2.0**-53
            counter += 1
            expert = min(experts - 1, int(experts * u * u))
            if expert not in row:
                row.append(expert)
        indices.append(row)
    return torch.tensor(indices, dtype=torch.int64)


def moe_dispatch_combine(dtype, tokens, d_model, experts, k):
    """hive's moe_dispatch + moe_combine as PyTorch MoE layers move rows: index_select of each
    expert's rows (in expert order, as hive's plan), then a weighted index_add_ back."""
    indices = skewed_routing(tokens, experts, k).to(DEVICE)
    slots = torch.argsort(indices.flatten(), stable=True)  # grouped order, as hive's plan
    source_rows = slots // k
    x = randn(tokens, d_model, dtype=dtype)
    grouped_weights = randn(tokens, k, dtype=dtype).flatten()[slots].unsqueeze(1)

    def run():
        with torch.no_grad():
            grouped = x.index_select(0, source_rows)
            torch.zeros_like(x).index_add_(0, source_rows, grouped * grouped_weights)
    return run


def grouped_ffn_forward_backward(dtype, tokens, d_model, d_ff, experts, k):
    """hive's grouped_linear -> gelu -> grouped_linear over the skewed routing's group sizes, as
    PyTorch usually runs experts: a loop of F.linear -> gelu (tanh, as hive's) -> F.linear per
    expert on its slice of the grouped rows, outputs concatenated; backward of a probe."""
    group_rows = torch.bincount(skewed_routing(tokens, experts, k).flatten(),
                                minlength=experts).tolist()
    rows = tokens * k
    x = randn(rows, d_model, dtype=dtype, requires_grad=True)
    up_weights = [randn(d_ff, d_model, dtype=dtype, requires_grad=True) for _ in range(experts)]
    up_biases = [randn(d_ff, dtype=dtype, requires_grad=True) for _ in range(experts)]
    down_weights = [randn(d_model, d_ff, dtype=dtype, requires_grad=True) for _ in range(experts)]
    down_biases = [randn(d_model, dtype=dtype, requires_grad=True) for _ in range(experts)]
    probe = randn(rows, d_model, dtype=dtype)

    def forward():
        outputs = []
        for e, x_e in enumerate(x.split(group_rows)):
            hidden = F.gelu(F.linear(x_e, up_weights[e], up_biases[e]), approximate="tanh")
            outputs.append(F.linear(hidden, down_weights[e], down_biases[e]))
        return torch.cat(outputs)
    leaves = [x, *up_weights, *up_biases, *down_weights, *down_biases]
    return forward_backward(forward, leaves, probe)


def attention_forward_backward(dtype, batch, seq, heads, head_dim):
    """hive's scaled_dot_product_attention on q, k, v [b, s, heads, d], no mask, scale
    1/sqrt(d), backward of a probe; F.scaled_dot_product_attention takes [b, heads, s, d], so the
    transposes (views) are part of the twin, as a model in the BSHD layout would need them."""
    q, k, v = (randn(batch, seq, heads, head_dim, dtype=dtype, requires_grad=True)
               for _ in range(3))
    probe = randn(batch, seq, heads, head_dim, dtype=dtype)

    def forward():
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), scale=head_dim ** -0.5)
        return out.transpose(1, 2)
    return forward_backward(forward, [q, k, v], probe)


class FeedForwardExpert(torch.nn.Module):
    """hive::nn::FeedForwardExpert: LayerNorm(x + Linear(4h, h)(GELU_tanh(Linear(h, 4h)(x))))."""

    def __init__(self, hidden):
        super().__init__()
        self.up = torch.nn.Linear(hidden, 4 * hidden)
        self.down = torch.nn.Linear(4 * hidden, hidden)
        self.norm = torch.nn.LayerNorm(hidden, eps=1e-5)

    def forward(self, x):
        return self.norm(x + self.down(F.gelu(self.up(x), approximate="tanh")))


class MixtureOfExperts(torch.nn.Module):
    """hive::nn::MixtureOfExperts on a side x side grid, written as PyTorch MoE layers usually are
    (e.g. Mixtral's): gate, top-k, softmax over the chosen, then a Python loop over the experts,
    each gathering its rows with index_select and adding its weighted output back with index_add.

    Routing as hive's: the gate scores each grid coordinate and an expert's score is the sum of its
    two coordinates' scores.
    """

    def __init__(self, hidden, side, k):
        super().__init__()
        self.side, self.k = side, k
        self.gate = torch.nn.Linear(hidden, 2 * side)
        self.experts = torch.nn.ModuleList(FeedForwardExpert(hidden) for _ in range(side * side))

    def forward(self, x):
        rows = x.shape[0]
        first, second = self.gate(x).split(self.side, dim=1)
        scores = (first.unsqueeze(2) + second.unsqueeze(1)).reshape(rows, self.side * self.side)
        top = scores.topk(self.k, dim=1)
        weights = top.values.softmax(dim=1)
        # [experts, k, rows]: which (choice, row) pairs went to each expert
        expert_mask = F.one_hot(top.indices, num_classes=len(self.experts)).permute(2, 1, 0)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            choice, row = torch.where(expert_mask[e])
            if row.numel() == 0:
                continue
            expert_out = expert(x.index_select(0, row)) * weights[row, choice].unsqueeze(1)
            out.index_add_(0, row, expert_out)
        return out


def local_moe_forward_backward(dtype, tokens, d_model, d_ff, experts, k):
    side = round(experts ** 0.5)
    if side * side != experts or d_ff != 4 * d_model:
        raise ValueError(f"the MoE twin needs a square grid and d_ff = 4 d_model, got {experts} "
                         f"experts and d_ff {d_ff} for d_model {d_model}")
    moe = MixtureOfExperts(d_model, side, k).to(device=DEVICE, dtype=DTYPES[dtype])
    x = randn(tokens, d_model, dtype=DTYPES[dtype], requires_grad=True)
    probe = randn(tokens, d_model, dtype=DTYPES[dtype])

    def run():
        moe.zero_grad(set_to_none=True)
        x.grad = None
        moe(x).backward(probe)
    return run


def build_case(name, adam_fused=False):
    family, a = parse_case(name)
    dtype = DTYPES.get(a.get("dtype"))
    twins = {
        "MatmulPeak": lambda: matmul_peak(dtype, a["n"]),
        "DeviceCopy": lambda: device_copy(a["mib"]),
        "LinearForward": lambda: linear_forward(dtype, a["rows"], a["in"], a["out"]),
        "LinearForwardBackward":
            lambda: linear_forward_backward(dtype, a["rows"], a["in"], a["out"]),
        "FeedForwardForwardBackward":
            lambda: feed_forward_forward_backward(dtype, a["rows"], a["in"], a["hidden"]),
        "LayerNormForward": lambda: layer_norm_forward(dtype, a["rows"], a["features"]),
        "LayerNormForwardBackward":
            lambda: layer_norm_forward_backward(dtype, a["rows"], a["features"]),
        "SoftmaxForwardBackward": lambda: softmax_forward_backward(dtype, a["rows"], a["classes"]),
        "CrossEntropyForwardBackward":
            lambda: cross_entropy_forward_backward(dtype, a["rows"], a["classes"]),
        "AdamStep": lambda: adam_step(a["tensors"], fused=adam_fused),
        "TopK": lambda: top_k(a["rows"], a["experts"], a["k"]),
        "MoeDispatchCombine": lambda: moe_dispatch_combine(
            dtype, a["tokens"], a["d_model"], a["experts"], a["k"]),
        "GroupedFfnForwardBackward": lambda: grouped_ffn_forward_backward(
            dtype, a["tokens"], a["d_model"], a["d_ff"], a["experts"], a["k"]),
        "AttentionForwardBackward": lambda: attention_forward_backward(
            dtype, a["batch"], a["seq"], a["heads"], a["head_dim"]),
        "LocalMoeForwardBackward": lambda: local_moe_forward_backward(
            a["dtype"], a["tokens"], a["d_model"], a["d_ff"], a["experts"], a["k"]),
    }
    if family not in twins:
        raise ValueError(f"no PyTorch twin for cuda_kernels_bench case family '{family}'")
    torch.manual_seed(SEED)
    return twins[family]()


# --- timing ------------------------------------------------------------------------------------


def time_case(run, min_time, repeats):
    """Median over `repeats` windows of the mean seconds per iteration; a window has enough
    iterations to last at least min_time, each ending with a device synchronize."""
    for _ in range(WARMUP):
        run()
        torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def window(iterations):
        start.record()
        for _ in range(iterations):
            run()
            torch.cuda.synchronize()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / iterations

    iterations = max(1, int(min_time / window(1)) + 1)
    return statistics.median(window(iterations) for _ in range(repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="where to write the JSON")
    parser.add_argument("--filter", default="", help="regex: only cases whose name it matches "
                        "(re.search), like --benchmark_filter")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="seconds per timing window, at least (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timing windows per case; the median is kept (default: %(default)s)")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="let f32 GEMMs run on TF32 tensor cores. Off by default, as torch's "
                             "default and hive's f32 GEMMs (CUBLAS_COMPUTE_32F, never TF32)")
    options = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_reference: torch.cuda.is_available() is False")
    torch.backends.cuda.matmul.allow_tf32 = options.allow_tf32

    seconds, variants, errors = {}, {}, {}
    for name in (case for case in CASES if re.search(options.filter, case)):
        print("torch", name, file=sys.stderr, flush=True)
        kinds = [("default", False)] + ([("fused", True)] if name.startswith("AdamStep") else [])
        for kind, fused in kinds:
            try:
                elapsed = time_case(build_case(name, adam_fused=fused), options.min_time,
                                    options.repeats)
            except (RuntimeError, ValueError) as error:  # CUDA out of memory is a RuntimeError
                errors[name if kind == "default" else f"{name} ({kind})"] = str(error)
                continue
            finally:
                torch.cuda.empty_cache()
            if kind == "default":
                seconds[name] = elapsed
            else:
                variants.setdefault(name, {})[kind] = elapsed
            print(f"  {kind}: {elapsed * 1e3:.3f} ms", file=sys.stderr, flush=True)

    result = {
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "timing": {"warmup": WARMUP, "min_time_s": options.min_time, "repeats": options.repeats,
                   "statistic": "median of windows; each iteration ends with a synchronize"},
        "seconds": seconds,
        # Other implementations of a case (AdamW fused=True), for context only.
        "variants": variants,
        "errors": errors,
    }
    with open(options.output, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(f"wrote {options.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
