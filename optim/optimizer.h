// Optimizers: they turn the gradients that backward() left in each parameter's
// grad() into an update of the parameter. The training loop, as in PyTorch:
//
//   optim::Adam opt(model.parameters(), {.lr = 1e-3});
//   for (...) {
//     opt.zero_grad();                  // drop last step's gradients
//     Tensor loss = loss_fn(model(x), y);
//     loss.backward();                  // p.grad() for every parameter p
//     opt.step();                       // p -= (some function of p.grad() and history)
//   }
//
// Parameters come in groups, each with its own hyperparameters (a smaller lr
// for the embeddings, no weight decay for biases, ...):
//
//   optim::SGD opt({{encoder_params, {.lr = 0.01}}, {head_params, {.lr = 0.1, .momentum = 0.9}}});
//
// Each optimizer keeps a state per parameter (momentum buffers, Adam's moving
// averages). state_dict() names all of it, PyTorch style, so a checkpoint can
// hold it next to the model's and a resumed run continues exactly:
//
//   param_groups.0.params   int64 [n]: the global indices of the group's parameters
//   param_groups.0.lr       0-d float64 (one entry per hyperparameter; bools as 0/1)
//   state.3.exp_avg         parameter 3's first moment (parameters are numbered
//   state.3.step            across groups, in order, as in PyTorch)
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "heed/core/tensor.h"
#include "heed/nn/state_dict.h"

namespace heed::optim {

// What training loops and schedulers need from any optimizer.
class Optimizer {
 public:
  Optimizer() = default;
  virtual ~Optimizer() = default;
  // A copy would share the state buffers with the original; make a new optimizer
  // and load_state_dict() instead.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient. Parameters whose grad()
  // is undefined (unused in this step's loss) are skipped, state and all.
  virtual void step() = 0;
  // Drops every parameter's grad (the next backward() writes fresh ones).
  void zero_grad();

  virtual size_t num_groups() const = 0;
  virtual const std::vector<Tensor>& params(size_t group) const = 0;
  std::vector<Tensor> parameters() const;  // every group's, in order

  // The learning rate of one group (the first by default); set_lr(lr) sets every group's.
  virtual double lr(size_t group = 0) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
  void set_lr(double lr);

  // The momentum of one group, for schedulers that cycle it (OneCycleLR): SGD's
  // momentum, or Adam's beta1, which plays the same part (the decay of the running
  // average of gradients). An optimizer without either says so with has_momentum()
  // false, and momentum() / set_momentum() throw.
  virtual bool has_momentum() const { return false; }
  virtual double momentum(size_t group = 0) const;
  virtual void set_momentum(size_t group, double momentum);

  // The hyperparameters and per-parameter state, under the keys described at the
  // top of this file. Like PyTorch's, the state tensors alias the optimizer's
  // buffers: save or clone them before stepping again.
  virtual StateDict state_dict() const = 0;
  // Copies hyperparameters and state in (state tensors are cloned, converted to
  // their parameter's dtype). The groups must have the same sizes as this
  // optimizer's. A missing or unexpected key is a ValueError naming it, a state
  // tensor of the wrong shape a ShapeError; nothing changes unless all of it fits.
  virtual void load_state_dict(const StateDict& state) = 0;

  // The lr each group started from, which schedulers count from (PyTorch's
  // group["initial_lr"]). The first scheduler built on this optimizer sets it to
  // the lrs of that moment. state_dict() saves it (param_groups.0.initial_lr) and
  // load_state_dict() restores it, so a scheduler built after loading a
  // checkpoint counts from the original lr, not from the decayed one the
  // checkpoint left in lr(). Empty until set.
  const std::vector<double>& initial_lrs() const { return initial_lrs_; }
  void set_initial_lrs(std::vector<double> lrs);  // one per group

 protected:
  std::vector<double> initial_lrs_;
};

// Parameters that share hyperparameters. Options is the optimizer's options struct.
template <class Options>
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
};

namespace detail {
// The checks every optimizer runs on its groups: at least one parameter in all;
// each a defined, floating, leaf tensor; none in two groups. `name` names the optimizer.
void check_params(const char* name, const std::vector<std::vector<Tensor>>& groups);

// A parameter's gradient, checked against it (shape and dtype), or undefined.
Tensor checked_grad(const char* name, const Tensor& param);

// Hyperparameters and scalar state to and from state-dict tensors: a double or
// bool as a 0-d float64, an int64 as a 0-d int64, betas as a float64 [2].
Tensor to_state_tensor(double v);
Tensor to_state_tensor(bool v);
Tensor to_state_tensor(int64_t v);
Tensor to_state_tensor(const std::pair<double, double>& v);
inline Tensor to_state_tensor(const Tensor& t) { return t; }  // state buffers go in as they are
void from_state_tensor(const std::string& key, const Tensor& t, double& out);
void from_state_tensor(const std::string& key, const Tensor& t, bool& out);
void from_state_tensor(const std::string& key, const Tensor& t, int64_t& out);
void from_state_tensor(const std::string& key, const Tensor& t, std::pair<double, double>& out);

// Looks up key; a ValueError naming the key and the optimizer if it is missing.
const Tensor& require_key(const char* name, const StateDict& state, const std::string& key);
// A state buffer from a state dict: the parameter's shape (else a ShapeError naming
// the key), converted to its dtype, and a fresh copy the optimizer owns.
Tensor load_buffer(const char* name, const std::string& key, const Tensor& t, const Tensor& param);
}  // namespace detail

// The machinery every optimizer shares: its groups with typed options, one
// State per parameter, and state_dict() / load_state_dict() written once.
//
// Options and State describe themselves with visit(), which calls a visitor on
// each (name, field) pair, so saving and loading never list fields twice:
//
//   struct SGDOptions { double lr, momentum; ...
//     template <class V> void visit(V&& v) { v("lr", lr); v("momentum", momentum); ... } };
//   struct SGDState { Tensor momentum_buffer;
//     bool initialized() const;                               // has it stepped yet?
//     template <class V> void visit(V&& v, const SGDOptions& o);  // only the fields o uses
//   };
//
// Options also has `static void check(const char* name, const Options&)`, which
// throws a ValueError for a bad value; it runs on construction and on load.
// A derived optimizer supplies step().
template <class Options, class State>
class OptimizerBase : public Optimizer {
 public:
  using Group = ParamGroup<Options>;

  size_t num_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& params(size_t group) const override { return at(group).params; }
  double lr(size_t group = 0) const override { return at(group).options.lr; }
  void set_lr(size_t group, double lr) override { at(group).options.lr = lr; }
  using Optimizer::set_lr;

  // Options with `betas` (Adam) have momentum beta1; options with `momentum` (SGD), that.
  static constexpr bool kHasBetas = requires(Options o) { o.betas.first; };
  static constexpr bool kHasMomentum = kHasBetas || requires(Options o) { o.momentum; };
  bool has_momentum() const override { return kHasMomentum; }
  double momentum(size_t group = 0) const override {
    if constexpr (kHasBetas) return at(group).options.betas.first;
    else if constexpr (kHasMomentum) return at(group).options.momentum;
    else return Optimizer::momentum(group);
  }
  void set_momentum(size_t group, double momentum) override {
    if constexpr (kHasMomentum) {
      Options o = at(group).options;
      if constexpr (kHasBetas) o.betas.first = momentum;
      else o.momentum = momentum;
      // The construction rules hold for a scheduled momentum too (nesterov needs
      // one, beta1 < 1). Only the momentum is new, so the lr is checked as the
      // default: a schedule may set one a user could not (OneCycleLR's linear
      // anneal ends just below 0, as PyTorch's does).
      Options checked = o;
      checked.lr = Options{}.lr;
      Options::check(name_, checked);
      at(group).options = o;
    } else {
      Optimizer::set_momentum(group, momentum);
    }
  }
  const Options& options(size_t group = 0) const { return at(group).options; }
  Options& options(size_t group = 0) { return at(group).options; }

  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  OptimizerBase(const char* name, std::vector<Group> groups) : name_(name), groups_(std::move(groups)) {
    std::vector<std::vector<Tensor>> params;
    for (const Group& g : groups_) params.push_back(g.params);
    detail::check_params(name_, params);
    for (const Group& g : groups_) Options::check(name_, g.options);
    size_t n = 0;
    for (const Group& g : groups_) n += g.params.size();
    state_.resize(n);
  }

  const Group& at(size_t group) const {
    if (group >= groups_.size())
      throw IndexError(msg(name_, ": group ", group, " is out of range (", groups_.size(), " groups)"));
    return groups_[group];
  }
  Group& at(size_t group) { return const_cast<Group&>(std::as_const(*this).at(group)); }

  // Calls f(param, state, options) for every parameter, in global order.
  template <class F>
  void for_each_param(F&& f) {
    size_t index = 0;
    for (Group& g : groups_)
      for (Tensor& p : g.params) f(p, state_[index++], g.options);
  }

  const char* name_;
  std::vector<Group> groups_;
  std::vector<State> state_;  // one per parameter, numbered across groups in order
};

// ---- state_dict / load_state_dict, written once for every optimizer ----------

template <class Options, class State>
StateDict OptimizerBase<Options, State>::state_dict() const {
  StateDict out;
  int64_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    std::vector<int64_t> ids;
    for (size_t k = 0; k < groups_[g].params.size(); ++k) ids.push_back(index++);
    out.set(prefix + "params", Tensor::from_vector(ids, {static_cast<int64_t>(ids.size())}));
    Options o = groups_[g].options;  // visit() takes non-const fields; this is a copy
    o.visit([&](const char* name, auto& value) { out.set(prefix + name, detail::to_state_tensor(value)); });
    if (!initial_lrs_.empty()) out.set(prefix + "initial_lr", detail::to_state_tensor(initial_lrs_[g]));
  }
  index = 0;
  for (const Group& g : groups_) {
    for (size_t k = 0; k < g.params.size(); ++k, ++index) {
      State s = state_[index];  // a copy of the handles: the tensors still alias the buffers
      if (!s.initialized()) continue;
      const std::string prefix = "state." + std::to_string(index) + ".";
      s.visit([&](const char* name, auto& value) { out.set(prefix + name, detail::to_state_tensor(value)); },
              g.options);
    }
  }
  return out;
}

template <class Options, class State>
void OptimizerBase<Options, State>::load_state_dict(const StateDict& state) {
  // Everything is read into copies first, so a bad dict leaves this optimizer as it was.
  std::vector<Group> groups = groups_;
  std::vector<State> states(state_.size());
  std::vector<double> initial;  // the groups' initial_lr, when the dict has them
  std::set<std::string> used;
  auto take = [&](const std::string& key) -> const Tensor& {
    used.insert(key);
    return detail::require_key(name_, state, key);
  };
  // "state.3." for every parameter the dict has state for (PyTorch leaves out
  // parameters that never stepped).
  std::set<std::string> with_state;
  for (const auto& [key, t] : state)
    if (key.rfind("state.", 0) == 0) with_state.insert(key.substr(0, key.find('.', 6) + 1));

  int64_t index = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    const Tensor& ids = take(prefix + "params");
    if (ids.numel() != static_cast<int64_t>(groups[g].params.size()))
      throw ValueError(msg(name_, ".load_state_dict: '", prefix, "params' lists ", ids.numel(),
                           " parameters, but group ", g, " of this optimizer has ", groups[g].params.size()));
    groups[g].options.visit([&](const char* name, auto& value) {
      detail::from_state_tensor(prefix + name, take(prefix + name), value);
    });
    Options::check(name_, groups[g].options);
    if (state.contains(prefix + "initial_lr")) {  // only where a scheduler ran
      initial.emplace_back();
      detail::from_state_tensor(prefix + "initial_lr", take(prefix + "initial_lr"), initial.back());
    }
    index += static_cast<int64_t>(groups[g].params.size());
  }
  if (!initial.empty() && initial.size() != groups.size())
    throw ValueError(msg(name_, ".load_state_dict: initial_lr is given for ", initial.size(), " of ", groups.size(),
                         " groups; it must be given for all or none"));

  index = 0;
  for (const Group& g : groups) {
    for (const Tensor& p : g.params) {
      const std::string prefix = "state." + std::to_string(index) + ".";
      if (with_state.count(prefix)) {
        states[index].visit(
            [&](const char* name, auto& value) {
              const std::string key = prefix + name;
              if constexpr (std::is_same_v<std::decay_t<decltype(value)>, Tensor>)
                value = detail::load_buffer(name_, key, take(key), p);
              else
                detail::from_state_tensor(key, take(key), value);
            },
            g.options);
      }
      ++index;
    }
  }

  for (const auto& [key, t] : state)
    if (!used.count(key))
      throw ValueError(msg(name_, ".load_state_dict: unexpected key '", key, "' (shape ", t.shape(),
                           "); is it another optimizer's state, or were there more groups?"));
  groups_ = std::move(groups);
  state_ = std::move(states);
  initial_lrs_ = std::move(initial);
}

}  // namespace heed::optim
