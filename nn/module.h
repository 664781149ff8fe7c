// Module: the base of every layer. It keeps parameters, buffers and submodules
// by name, in registration order, so that
//
//   for (auto& [name, p] : model.named_parameters()) ...   // "encoder.weight_ih_l0", ...
//
// yields the same dotted names, in the same order, as PyTorch's, and a state
// dict maps onto PyTorch's key by key.
//
// A layer registers in its constructor and keeps handles as members:
//
//   struct Linear : UnaryModule {
//     Linear(int64_t in, int64_t out)
//         : weight(register_parameter("weight", init::fan_in_uniform({out, in}, in))),
//           bias(register_parameter("bias", init::fan_in_uniform({out}, in))) {}
//     Tensor forward(const Tensor& x) const override;
//     Tensor weight, bias;   // the same handles as the registered ones (a Tensor is a handle)
//   };
//
// load_state_dict() copies values *into* the registered tensors, so those member
// handles stay valid.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "heed/core/tensor.h"
#include "heed/nn/state_dict.h"

namespace heed::nn {

class Module;

namespace detail {
// While nn::summary() runs a model, the output of every module call is reported
// here (nn/summary.cpp; see Module::report_output); otherwise it is empty and
// costs one test.
using OutputRecorder = void (*)(const Module& module, const Tensor& output);
extern thread_local constinit OutputRecorder t_output_recorder;
}  // namespace detail

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  // Copying a module would alias its parameters under two owners; share a
  // std::shared_ptr<Module> instead.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- what it holds ------------------------------------------------------
  // A parameter shared by two submodules (tied weights) is listed once, under the
  // first name that reaches it, as in PyTorch: an optimizer must not step it twice.
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;  // dotted, in order
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // The number of parameter elements, each shared parameter once, as
  // sum(p.numel() for p in model.parameters()); trainable_only counts only those
  // that require grad. heed's one parameter counter.
  int64_t num_parameters(bool trainable_only = false) const;

  // Calls fn on every submodule, each child's tree before its parent, and last
  // on this module (PyTorch's order); returns *this. For initialisation:
  //   model->apply([](nn::Module& m) {
  //     if (auto* linear = dynamic_cast<nn::Linear*>(&m)) linear->weight.normal_(0, 0.02);
  //   });
  // (under a NoGradGuard: the writes are in place). fn may change the values of
  // parameters, not the tree: registering anything on a module that apply() is
  // visiting is an error, since the walk runs over its lists.
  Module& apply(const std::function<void(Module&)>& fn);

  // ---- training state -------------------------------------------------------
  void zero_grad();                  // drops every parameter's grad
  void train(bool on = true);        // this module and all submodules
  void eval() { train(false); }
  // Converts every floating parameter and buffer to dtype (kFloat32 or kFloat64;
  // e.g. kFloat64 for gradcheck). The tensors change in place, so handles held as
  // members stay valid; their grads are dropped. Int64 buffers are left alone.
  void to(DType dtype);
  bool is_training() const { return training_; }

  // ---- state dicts (parameters and buffers, by dotted name) -------------------
  // Every name is a key, tied weights included (each under each of its names), as in
  // PyTorch. The values are detached aliases: they share memory with the module.
  StateDict state_dict() const;
  // Copies each entry into the matching tensor. Throws a ValueError naming the key
  // for a missing or an unexpected key (unless strict is false), and a ShapeError
  // naming the key and both shapes for a shape mismatch. Nothing is changed unless
  // every entry fits.
  void load_state_dict(const StateDict& state, bool strict = true);

 protected:
  // Hands y, what this module's forward returns, to nn::summary() when it is
  // watching (a module's row shows its output shape), and returns it. Every heed
  // layer's forward ends with it, and UnaryModule::operator() calls it, so a
  // module of your own shows its output if you call it as m(x), or if its
  // forward returns report_output(y). A forward with several outputs (LSTM:
  // output, h, c) reports the main one.
  Tensor report_output(Tensor y) const {
    if (detail::t_output_recorder) detail::t_output_recorder(*this, y);
    return y;
  }

  // Registers a parameter: a leaf that requires grad. Returns the registered
  // handle, so a member can be initialised from it.
  Tensor register_parameter(const std::string& name, Tensor value);
  // A buffer is state that is saved but not trained (a running mean, a mask).
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_new_name(name);
    if (!module) throw ValueError(msg("Module: the module registered as '", name, "' is null"));
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  int visiting_ = 0;  // apply() calls now walking this module's lists
};

// A module whose forward maps one tensor to one tensor: Linear, Embedding,
// LayerNorm, Dropout, the activations, Sequential itself. It is the one
// interface Sequential needs to chain its members:
//
//   auto mlp = Sequential{std::make_shared<Linear>(4, 8), std::make_shared<ReLU>()};
//   Tensor y = mlp(x);
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;
  Tensor operator()(const Tensor& x) const { return report_output(forward(x)); }
};

}  // namespace heed::nn
