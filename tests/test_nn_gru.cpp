// GRUCell and GRU (nn/gru.h): against PyTorch (tests/reference/gru.py), a float64
// gradcheck, parameter names and errors.
#include "heed/nn/gru.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

Tensor fx(const std::string& name) { return fixture("gru.safetensors", name); }
Tensor fx_leaf(const std::string& name) { return fx(name).clone().requires_grad_(); }

StateDict params_of(const std::string& c, const Module& module) {
  StateDict sd;
  for (auto& [name, p] : module.named_parameters()) sd.set(name, fx(c + ".params." + name));
  return sd;
}

// out, h and every gradient of (out R).sum() + (h R2).sum() against the fixture of case c.
void check_case(const std::string& c, const Module& module, const Tensor& out, const Tensor& h,
                const std::vector<std::pair<std::string, Tensor>>& inputs) {
  check_close(c + " output", out, fx(c + ".out"));
  check_close(c + " h", h, fx(c + ".h"));
  Tensor loss = (out * fx(c + ".R")).sum();
  if (c.rfind("cell", 0) != 0) loss = loss + (h * fx(c + ".R2")).sum();
  loss.backward();
  for (const auto& [name, t] : inputs) check_close(c + " grad " + name, t.grad(), fx(c + ".grad." + name));
  for (auto& [name, p] : module.named_parameters()) check_close(c + " grad " + name, p.grad(), fx(c + ".grad.params." + name));
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("GRUCell") {
  SUBCASE("matches PyTorch, with h and without") {
    GRUCell cell(4, 5);
    CHECK(names_of(cell) == std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
    CHECK(cell.weight_ih.shape() == Shape{15, 4});
    cell.load_state_dict(params_of("cell", cell));
    Tensor x = fx_leaf("cell.x"), h0 = fx_leaf("cell.h0");
    Tensor h = cell(x, h0);
    check_case("cell", cell, h, h, {{"x", x}, {"h0", h0}});

    GRUCell zero(4, 5);
    zero.load_state_dict(params_of("cell0", zero));
    Tensor x0 = fx_leaf("cell0.x");
    Tensor h1 = zero(x0);
    check_case("cell0", zero, h1, h1, {{"x", x0}});
    check_close("unbatched", zero(x0.detach().select(0, 1)), h1.detach().select(0, 1));
  }
  SUBCASE("gradient, float64") {
    manual_seed(3);
    GRUCell cell(3, 2);
    cell.to(kFloat64);
    CHECK(grad_ok([&](const TensorList& in) { return cell(in[0], in[1]); }, {randn64({2, 3}), randn64({2, 2})}));
  }
  SUBCASE("errors") {
    GRUCell cell(4, 5);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({3, 5})), "GRUCell: input is [3, 5]; it must be [B, input_size]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({3, 4}), Tensor::zeros({3, 4})),
                            "GRUCell: the initial h is [3, 4]; it must be [B, H] = [3, 5]", ShapeError);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({3, 4}, kFloat64)), "GRUCell: input is float64 but the parameters are float32",
                            DTypeError);
  }
}

TEST_CASE("GRU") {
  SUBCASE("matches PyTorch: 2 layers, batch_first, with h0") {
    GRU gru(4, 6, {.num_layers = 2, .batch_first = true});
    gru.load_state_dict(params_of("gru", gru));
    Tensor x = fx_leaf("gru.x"), h0 = fx_leaf("gru.h0");
    GRUOutput r = gru(x, h0);
    REQUIRE(r.output.shape() == Shape{3, 5, 6});
    REQUIRE(r.h.shape() == Shape{2, 3, 6});
    check_case("gru", gru, r.output, r.h, {{"x", x}, {"h0", h0}});
  }
  SUBCASE("matches PyTorch: bidirectional, 2 layers, dropout in eval mode, no h0") {
    GRU gru(3, 4, {.num_layers = 2, .dropout = 0.2, .bidirectional = true});
    CHECK(names_of(gru).size() == 16);
    CHECK(names_of(gru)[4] == "weight_ih_l0_reverse");
    gru.load_state_dict(params_of("bigru", gru));
    gru.eval();
    Tensor x = fx_leaf("bigru.x");
    GRUOutput r = gru(x);
    REQUIRE(r.output.shape() == Shape{5, 2, 8});
    check_case("bigru", gru, r.output, r.h, {{"x", x}});
  }
  SUBCASE("matches PyTorch: a padded batch (pack_padded_sequence)") {
    GRU gru(3, 4, {.bidirectional = true});
    gru.load_state_dict(params_of("packed", gru));
    Tensor x = fx_leaf("packed.x"), h0 = fx_leaf("packed.h0");
    GRUOutput r = gru.forward_padded(x, fx("packed.lengths"), h0);
    check_case("packed", gru, r.output, r.h, {{"x", x}, {"h0", h0}});
  }
  SUBCASE("gradient, float64, both directions") {
    manual_seed(4);
    GRU gru(2, 3, {.bidirectional = true});
    gru.to(kFloat64);
    CHECK(grad_ok(
        [&](const TensorList& in) {
          GRUOutput r = gru(in[0]);
          return cat({r.output.reshape({-1}), r.h.reshape({-1})}, 0);
        },
        {randn64({4, 2, 2})}));
  }
  SUBCASE("errors") {
    GRU gru(4, 6, {.num_layers = 2});
    CHECK_THROWS_CONTAINING(gru(Tensor::zeros({3, 5, 5})), "GRU: input is [3, 5, 5]; it must be [T, B, input_size]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(gru(Tensor::zeros({3, 5, 4}), Tensor::zeros({1, 5, 6})),
                            "GRU: the initial h is [1, 5, 6]; it must be [num_layers * directions, B, H] = [2, 5, 6]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(GRU(4, 6, {.num_layers = 0}), "GRU: num_layers is 0", ValueError);
    CHECK_THROWS_CONTAINING(gru.forward_padded(Tensor::zeros({3, 2, 4}), Tensor({4, 1}, kInt64)),
                            "GRU.forward_padded: lengths[0] is 4; each length must be in [1, T = 3]", ValueError);
  }
}
