// Chapter 5: a module of our own; its parameters by name; a state dict; a
// checkpoint written, read back, and refused when it does not fit.
#include "check.h"

using namespace heed;
using tour::check;

// [module]
// x: [N, in] -> [N, out]
struct TwoLayer : nn::Module {
  TwoLayer(int64_t in, int64_t hidden, int64_t out)
      : fc1(register_module("fc1", std::make_shared<nn::Linear>(in, hidden))),
        fc2(register_module("fc2", std::make_shared<nn::Linear>(hidden, out))),
        scale(register_buffer("scale", Tensor::ones({out}))) {}  // saved, not trained

  Tensor forward(const Tensor& x) const { return (*fc2)(tanh((*fc1)(x))) * scale; }

  std::shared_ptr<nn::Linear> fc1, fc2;  // the same objects as the registered ones
  Tensor scale;
};
// [end module]

int main() {
  // [names]
  manual_seed(0);
  TwoLayer model(3, 4, 2);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  check(names == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"},
        "named_parameters(): dotted names in registration order, as in PyTorch");
  check(model.num_parameters() == 4 * 3 + 4 + 2 * 4 + 2, "26 parameters: two weights [out, in], two biases");
  check(model.fc1->weight.is_leaf() && model.fc1->weight.requires_grad() && !model.scale.requires_grad(),
        "parameters are leaves that require grad; a buffer does not");
  model.eval();
  check(!model.fc1->is_training(), "eval() reaches every submodule");
  // [end names]

  // [state_dict]
  StateDict state = model.state_dict();
  check(state.size() == 5 && state.contains("scale") && state["fc1.weight"].shares_storage(model.fc1->weight),
        "state_dict(): parameters and buffers by name, aliasing the module's memory");

  Tensor x = Tensor::randn({5, 3});
  save(model, "two_layer.safetensors");  // safetensors: a JSON header, then the raw bytes
  manual_seed(1);
  TwoLayer other(3, 4, 2);               // different random weights
  check(tour::max_diff(other.forward(x), model.forward(x)) > 0, "a fresh model computes something else");
  load(other, "two_layer.safetensors");
  check(tour::max_diff(other.forward(x), model.forward(x)) == 0, "after load(), exactly the same function");
  // [end state_dict]

  // [mismatch]
  TwoLayer wider(3, 5, 2);  // fc1 is [5, 3] here
  check(tour::throws<ShapeError>([&] { wider.load_state_dict(state); }, "fc1.weight"),
        "a shape mismatch names the key and both shapes");
  StateDict partial;
  for (const auto& [name, t] : state)
    if (name != "fc2.bias") partial.set(name, t);
  check(tour::throws<ValueError>([&] { other.load_state_dict(partial); }, "missing key 'fc2.bias'"),
        "a missing key is named (strict loading, the default)");
  // [end mismatch]

  // An optimizer's state dict goes to a file the same way (the chapter's prose).
  optim::Adam opt(model.parameters(), {.lr = 0.01});
  model.forward(x).sum().backward();
  opt.step();
  save_safetensors(opt.state_dict(), "opt.safetensors");
  optim::Adam restored(other.parameters(), {.lr = 0.5});
  restored.load_state_dict(load_safetensors("opt.safetensors"));
  check(restored.lr() == 0.01 && restored.state_dict().at("state.0.step").item() == 1,
        "save_safetensors(opt.state_dict(), path) and opt.load_state_dict(load_safetensors(path))");
  return tour::failures();
}
