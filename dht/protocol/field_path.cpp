#include "dht/protocol/field_path.h"

namespace hive::dht {

std::string FieldPath::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

void FieldPath::append_to(std::string& out) const {
  if (parent_ != nullptr) parent_->append_to(out);
  out += name_;
  if (index_ != kNoIndex) {
    out += ' ';
    out += std::to_string(index_);
  }
}

}  // namespace hive::dht
