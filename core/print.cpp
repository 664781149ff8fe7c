// STUB: being written.
#include "heed/core/tensor.h"
namespace heed {
std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << "tensor(" << t.shape() << ")"; }
std::string to_string(const Tensor& t) { return msg(t); }
}  // namespace heed
