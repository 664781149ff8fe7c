// STUB: being written.
#include "heed/ops/index.h"
namespace heed {
#define HEED_TODO throw Error("index: not implemented yet")
Tensor index_select(const Tensor&, int64_t, const Tensor&) { HEED_TODO; }
Tensor concat(const std::vector<Tensor>&, int64_t) { HEED_TODO; }
Tensor stack(const std::vector<Tensor>&, int64_t) { HEED_TODO; }
std::vector<Tensor> split(const Tensor&, int64_t, int64_t) { HEED_TODO; }
std::vector<Tensor> chunk(const Tensor&, int64_t, int64_t) { HEED_TODO; }
}  // namespace heed
