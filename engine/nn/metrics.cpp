#include "engine/nn/metrics.h"

#include <vector>

#include "engine/ops/reduction.h"

namespace hive::nn {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  HIVE_REQUIRE(logits.defined() && labels.defined() && logits.rank() == 2 && labels.rank() == 1 &&
                   logits.size(0) == labels.size(0),
               "count_correct: expected logits [n, classes] and labels [n], got ",
               logits.defined() ? str_cat(logits.shape()) : std::string("undefined"), " and ",
               labels.defined() ? str_cat(labels.shape()) : std::string("undefined"));
  const std::vector<int64_t> predicted = argmax(logits.detach(), 1).to_vector<int64_t>();
  const std::vector<int64_t> expected = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == expected[i] ? 1 : 0;
  return correct;
}

}  // namespace hive::nn
