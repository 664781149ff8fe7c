// ModuleDict, Module::apply and the in-place initialisers (uniform_, normal_,
// fill_, zero_): the pieces of a GPT-2-style init. Names and visiting order are
// PyTorch 1.13's (printed by the snippet in each test's comment).
#include <cmath>
#include <string>
#include <vector>

#include "heed/autograd/grad_mode.h"
#include "heed/nn/activation.h"
#include "heed/nn/linear.h"
#include "heed/nn/module_dict.h"
#include "heed/nn/module_list.h"
#include "heed/nn/sequential.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

// PyTorch's twin:
//   class M(nn.Module):
//     def __init__(s):
//       super().__init__(); s.a = nn.Linear(2, 2); s.b = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
//       s.heads = nn.ModuleDict({'topic': nn.Linear(2, 3), 'mood': nn.Linear(2, 1)})
struct Model : Module {
  Model()
      : a(register_module("a", std::make_shared<Linear>(2, 2))),
        b(register_module("b", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<UnaryModule>>{
                                   std::make_shared<Linear>(2, 2), std::make_shared<ReLU>()}))),
        heads(register_module("heads", std::make_shared<ModuleDict>())) {
    heads->insert("topic", std::make_shared<Linear>(2, 3));
    heads->insert("mood", std::make_shared<Linear>(2, 1));
  }
  std::shared_ptr<Linear> a;
  std::shared_ptr<Sequential> b;
  std::shared_ptr<ModuleDict> heads;
};

std::vector<std::string> keys_of(const StateDict& state) {
  std::vector<std::string> keys;
  for (const auto& [key, t] : state) keys.push_back(key);
  return keys;
}

}  // namespace

TEST_CASE("ModuleDict: PyTorch's dotted names, insertion order, typed access") {
  Model m;
  // list(m.state_dict().keys()) in PyTorch 1.13:
  CHECK(keys_of(m.state_dict()) == std::vector<std::string>{"a.weight", "a.bias", "b.0.weight", "b.0.bias",
                                                            "heads.topic.weight", "heads.topic.bias",
                                                            "heads.mood.weight", "heads.mood.bias"});
  CHECK(m.heads->size() == 2);
  CHECK(m.heads->keys() == std::vector<std::string>{"topic", "mood"});
  CHECK(m.heads->contains("mood"));
  CHECK(!m.heads->contains("style"));
  CHECK(m.heads->at<Linear>("topic")->weight.shape() == Shape{3, 2});
  std::vector<std::string> visited;
  for (const auto& [key, module] : *m.heads) visited.push_back(key);
  CHECK(visited == std::vector<std::string>{"topic", "mood"});

  ModuleDict listed{{"x", std::make_shared<Linear>(1, 1)}, {"y", std::make_shared<ReLU>()}};
  CHECK(listed.keys() == std::vector<std::string>{"x", "y"});
  CHECK(keys_of(listed.state_dict()) == std::vector<std::string>{"x.weight", "x.bias"});
}

TEST_CASE("ModuleDict: bad keys and lookups are clear errors") {
  ModuleDict d;
  d.insert("enc", std::make_shared<Linear>(2, 2));
  CHECK_THROWS_WITH_AS(d.insert("enc", std::make_shared<Linear>(2, 2)), doctest::Contains("'enc' is already registered"),
                       ValueError);
  CHECK_THROWS_WITH_AS(d.insert("", std::make_shared<Linear>(2, 2)), doctest::Contains("must be non-empty"), ValueError);
  CHECK_THROWS_WITH_AS(d.insert("a.b", std::make_shared<Linear>(2, 2)), doctest::Contains("contain no '.'"),
                       ValueError);
  CHECK_THROWS_WITH_AS(d.insert("nothing", std::shared_ptr<Linear>()), doctest::Contains("'nothing' is null"),
                       ValueError);
  CHECK(d.size() == 1);  // the failed inserts added nothing
  CHECK_THROWS_WITH_AS(d["dec"], doctest::Contains("no module under the key 'dec'; the keys are 'enc'"), IndexError);
  CHECK_THROWS_WITH_AS(d.at<ReLU>("enc"), doctest::Contains("not of the type asked for"), ValueError);
}

TEST_CASE("Module::apply: children's trees first, then the module itself (PyTorch's order)") {
  Model m;
  std::vector<const Module*> order;
  m.apply([&](Module& mod) { order.push_back(&mod); });
  // PyTorch 1.13: ['a', 'b.0', 'b.1', 'b', 'heads.topic', 'heads.mood', 'heads', '(root)']
  const std::vector<const Module*> expected = {m.a.get(),      (*m.b)[0].get(),   (*m.b)[1].get(),
                                               m.b.get(),      (*m.heads)["topic"].get(), (*m.heads)["mood"].get(),
                                               m.heads.get(),  &m};
  CHECK(order == expected);
}

TEST_CASE("Module::apply: GPT-2's init in three lines") {
  manual_seed(3);
  Model m;
  {
    NoGradGuard no_grad;
    m.apply([](Module& mod) {
      if (auto* linear = dynamic_cast<Linear*>(&mod)) {
        linear->weight.normal_(0, 0.02);
        linear->bias.zero_();
      }
    });
  }
  for (const auto& named : m.named_parameters()) {  // (not a structured binding: clang 14 cannot capture one)
    const std::string& name = named.first;
    const Tensor& p = named.second;
    CAPTURE(name);
    if (name.ends_with("bias")) CHECK(p.abs().max().item() == 0);
    else CHECK(p.abs().max().item() < 0.2);  // 10 standard deviations
    CHECK(p.requires_grad());                // still parameters
  }
}

TEST_CASE("Module::apply: changing the module tree during the walk is refused") {
  Model m;
  CHECK_THROWS_WITH_AS(m.apply([](Module& mod) {
                         if (auto* d = dynamic_cast<ModuleDict*>(&mod)) d->insert("extra", std::make_shared<ReLU>());
                       }),
                       doctest::Contains("cannot register 'extra' while apply() visits this module"), ValueError);
  CHECK(m.heads->size() == 2);
  m.heads->insert("extra", std::make_shared<ReLU>());  // after the walk: fine
  CHECK(m.heads->size() == 3);
  CHECK_THROWS_WITH_AS(m.apply(std::function<void(Module&)>()), doctest::Contains("empty std::function"), ValueError);
}

TEST_CASE("uniform_ / normal_: the factories' numbers, in place, from any generator") {
  Generator g1(42), g2(42);
  Tensor x = Tensor::zeros({3, 5}, kFloat64);
  x.normal_(0, 1, g1);
  CHECK(x.to_vector() == Tensor::randn({3, 5}, kFloat64, g2).to_vector());
  x.uniform_(0, 1, g1);
  CHECK(x.to_vector() == Tensor::rand({3, 5}, kFloat64, g2).to_vector());

  // Through a transpose: drawn in the view's row-major order, like a fresh tensor of its shape.
  Tensor base = Tensor::zeros({4, 3});
  Generator g3(7), g4(7);
  base.t().uniform_(-2, 3, g3);
  const Tensor expected = Tensor::rand({3, 4}, kFloat64, g4) * 5.0 - 2.0;
  const std::vector<float> got = base.t().contiguous().to_vector();
  const std::vector<double> want = expected.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));

  // Moments of a large draw (PyTorch's normal_(2, 3): mean 2, std 3).
  Tensor big = Tensor::empty({200000}, kFloat64);
  big.normal_(2, 3, g1);
  const double mean = big.mean().item();
  const double sd = std::sqrt(((big - mean) * (big - mean)).mean().item());
  CHECK(mean == doctest::Approx(2).epsilon(0.02));
  CHECK(sd == doctest::Approx(3).epsilon(0.01));
  big.uniform_(-1, 5, g1);
  CHECK(big.min().item() >= -1);
  CHECK(big.max().item() < 5);
  CHECK(big.mean().item() == doctest::Approx(2).epsilon(0.01));
}

TEST_CASE("uniform_ / normal_: errors") {
  Tensor p = Tensor::zeros({2}).requires_grad_();
  CHECK_THROWS_WITH_AS(p.normal_(), doctest::Contains("normal_: in-place write to a tensor of shape [2] that requires grad"),
                       AutogradError);
  Tensor x = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(x.normal_(0, -1), doctest::Contains("finite std >= 0"), ValueError);
  CHECK_THROWS_WITH_AS(x.uniform_(1, 0), doctest::Contains("from <= to"), ValueError);
  CHECK_THROWS_WITH_AS(x.uniform_(0, std::nan("")), doctest::Contains("finite bounds"), ValueError);
  Tensor ids = Tensor::zeros({2}, kInt64);
  CHECK_THROWS_AS(ids.uniform_(), DTypeError);
}
