#include "heed/optim/optimizer.h"

#include <cmath>

#include "heed/core/profile_scope.h"

namespace heed::optim {

void Optimizer::zero_grad() {
  profiler::OpScope phase("optimizer.zero_grad", profiler::Kind::Phase);
  for (size_t g = 0; g < num_groups(); ++g)
    for (const Tensor& p : params(g)) Tensor(p).zero_grad();
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (size_t g = 0; g < num_groups(); ++g)
    for (const Tensor& p : params(g)) out.push_back(p);
  return out;
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < num_groups(); ++g) set_lr(g, lr);
}

double Optimizer::momentum(size_t) const {
  throw ValueError("momentum: this optimizer has neither momentum nor betas");
}

void Optimizer::set_momentum(size_t, double) {
  throw ValueError("set_momentum: this optimizer has neither momentum nor betas");
}

void Optimizer::set_initial_lrs(std::vector<double> lrs) {
  if (lrs.size() != num_groups())
    throw ValueError(msg("set_initial_lrs: ", lrs.size(), " lrs for ", num_groups(), " groups; one per group"));
  initial_lrs_ = std::move(lrs);
}

namespace detail {

void check_params(const char* name, const std::vector<std::vector<Tensor>>& groups) {
  size_t total = 0;
  for (const auto& g : groups) total += g.size();
  if (total == 0) throw ValueError(msg(name, ": got no parameters to optimize"));
  std::vector<const TensorImpl*> seen;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t k = 0; k < groups[g].size(); ++k) {
      const Tensor& p = groups[g][k];
      if (!p.defined()) throw ValueError(msg(name, ": parameter ", k, " of group ", g, " is undefined"));
      if (!is_floating(p.dtype()))
        throw DTypeError(msg(name, ": parameter ", k, " of group ", g, " has dtype ", p.dtype(),
                             "; only floating tensors can be optimized"));
      // A non-leaf is the output of some op: writing into it would not change the
      // leaves it came from, so the "update" would be lost.
      if (!p.is_leaf())
        throw ValueError(msg(name, ": parameter ", k, " of group ", g, " (shape ", p.shape(),
                             ") is not a leaf; optimize the leaves it is computed from"));
      for (const TensorImpl* s : seen)
        if (s == &p.impl())
          throw ValueError(msg(name, ": parameter ", k, " of group ", g, " (shape ", p.shape(),
                               ") appears twice; each parameter may be in one group only"));
      seen.push_back(&p.impl());
    }
  }
}

Tensor checked_grad(const char* name, const Tensor& param) {
  Tensor g = param.grad();
  if (!g.defined()) return g;
  if (g.shape() != param.shape() || g.dtype() != param.dtype())
    throw ValueError(msg(name, ".step: a parameter of shape ", param.shape(), " and dtype ", param.dtype(),
                         " has a gradient of shape ", g.shape(), " and dtype ", g.dtype(), "; they must match"));
  return g;
}

Tensor to_state_tensor(double v) { return Tensor::scalar(v, kFloat64); }
Tensor to_state_tensor(bool v) { return Tensor::scalar(v ? 1 : 0, kFloat64); }
Tensor to_state_tensor(int64_t v) {
  return Tensor::from_vector(std::vector<int64_t>{v}, Shape{});  // exact (a double would round above 2^53)
}
Tensor to_state_tensor(const std::pair<double, double>& v) {
  return Tensor::from_vector(std::vector<double>{v.first, v.second}, {2});
}

namespace {
void require_shape(const std::string& key, const Tensor& t, const Shape& shape) {
  if (t.shape() != shape)
    throw ShapeError(msg("load_state_dict: '", key, "' has shape ", t.shape(), "; expected ", shape));
}
}  // namespace

void from_state_tensor(const std::string& key, const Tensor& t, double& out) {
  require_shape(key, t, {});
  out = t.item();
}
void from_state_tensor(const std::string& key, const Tensor& t, bool& out) {
  require_shape(key, t, {});
  const double v = t.item();
  if (v != 0 && v != 1)
    throw ValueError(msg("load_state_dict: '", key, "' is a flag and must be 0 or 1, not ", v));
  out = v == 1;
}
void from_state_tensor(const std::string& key, const Tensor& t, int64_t& out) {
  require_shape(key, t, {});
  if (t.dtype() == kInt64) {
    out = t.to_vector<int64_t>()[0];
    return;
  }
  // PyTorch keeps Adam's step as a float tensor; accept any whole number.
  const double v = t.item();
  if (v != std::floor(v) || std::abs(v) > 9.0e15)
    throw ValueError(msg("load_state_dict: '", key, "' must be a whole number, not ", v));
  out = static_cast<int64_t>(v);
}
void from_state_tensor(const std::string& key, const Tensor& t, std::pair<double, double>& out) {
  require_shape(key, t, {2});
  std::vector<double> v = t.to_vector<double>();
  out = {v[0], v[1]};
}

const Tensor& require_key(const char* name, const StateDict& state, const std::string& key) {
  if (!state.contains(key))
    throw ValueError(msg(name, ".load_state_dict: missing key '", key, "' in the state dict"));
  return state.at(key);
}

Tensor load_buffer(const char* name, const std::string& key, const Tensor& t, const Tensor& param) {
  if (t.shape() != param.shape())
    throw ShapeError(msg(name, ".load_state_dict: '", key, "' has shape ", t.shape(),
                         " but its parameter has shape ", param.shape()));
  if (!is_floating(t.dtype()))
    throw DTypeError(msg(name, ".load_state_dict: '", key, "' has dtype ", t.dtype(), "; a state buffer is floating"));
  // clone(): the optimizer must own its buffers, not alias the dict's tensors
  // (load the same dict into two optimizers and they would share momentum).
  return t.detach().to(param.dtype()).clone();
}

}  // namespace detail

}  // namespace heed::optim
