// Every engine op, for code that uses many of them.
#pragma once

#include "engine/autograd/grad_mode.h"
#include "engine/core/tensor.h"
#include "engine/ops/attention.h"
#include "engine/ops/cast.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/grouped_matmul.h"
#include "engine/ops/indexing.h"
#include "engine/ops/matmul.h"
#include "engine/ops/moe_gating.h"
#include "engine/ops/moe_routing.h"
#include "engine/ops/normalization.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape_ops.h"
#include "engine/ops/softmax.h"
#include "engine/ops/topk.h"
