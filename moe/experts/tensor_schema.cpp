#include "moe/experts/tensor_schema.h"

#include <ostream>

namespace hive::moe {

std::string batch_shape_string(const TensorSchema& schema) {
  std::string text = "[*";
  for (const int64_t dim : schema.row_shape.dims()) text += ", " + std::to_string(dim);
  return text + "]";
}

std::ostream& operator<<(std::ostream& out, const TensorSchema& schema) {
  return out << schema.dtype << " " << batch_shape_string(schema);
}

}  // namespace hive::moe
