// LSTM: the fused gate ops (ops/lstm.h) and the LSTMCell / LSTM layers (nn/lstm.h).
// The ops get hand-checked values and float64 gradchecks; the layers are checked
// against PyTorch (tests/reference/lstm.py), gradchecked in float64, and their
// parameter names, errors and a 10,000-step backward are tested.
#include <omp.h>

#include <cmath>

#include "heed/nn/lstm.h"
#include "heed/ops/lstm.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

const StateDict& fixtures() { return fixture_file("lstm.safetensors"); }
Tensor fx(const std::string& name) { return fixture("lstm.safetensors", name); }
Tensor fx_leaf(const std::string& name) { return fx(name).clone().requires_grad_(); }

// The entries "<layer_case>.params.<name>" for each parameter of module, as a state dict.
StateDict params_of(const std::string& layer_case, const Module& module) {
  StateDict sd;
  for (auto& [name, p] : module.named_parameters()) sd.set(name, fx(layer_case + ".params." + name));
  return sd;
}

void check_param_grads(const std::string& c, const Module& module) {
  for (auto& [name, p] : module.named_parameters())
    check_close(c + " grad " + name, p.grad(), fx(c + ".grad.params." + name));
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

// The same step written with small ops, as a second opinion on the fused kernels.
std::pair<Tensor, Tensor> gates_by_small_ops(const Tensor& z, const Tensor& c) {
  std::vector<Tensor> q = chunk(z, 4, 1);
  Tensor c2 = sigmoid(q[1]) * c + sigmoid(q[0]) * tanh(q[2]);
  return {sigmoid(q[3]) * tanh(c2), c2};
}

// h, c of a layer, concatenated with its output into one vector, for gradcheck.
Tensor flat(const std::vector<Tensor>& ts) {
  std::vector<Tensor> parts;
  for (const Tensor& t : ts) parts.push_back(t.reshape({-1}));
  return concat(parts, 0);
}

}  // namespace

// ==== the ops ===================================================================

TEST_CASE("lstm_gates") {
  SUBCASE("values by hand: z = 0 gives i = f = o = 1/2, g = 0") {
    // c' = f c + i g = c / 2,  h' = o tanh(c') = tanh(c / 2) / 2
    Tensor hc = lstm_gates(Tensor::zeros({1, 8}), Tensor({{1.0, -2.0}}));
    check_values(hc, {std::tanh(0.5) / 2, std::tanh(-1.0) / 2, 0.5, -1.0});
  }
  SUBCASE("values: each gate in its own block (order i, f, g, o)") {
    // H = 1, z = (z_i, z_f, z_g, z_o) = (1, -1, 0.5, 2), c = 3
    Tensor hc = lstm_gates(Tensor({{1.0, -1.0, 0.5, 2.0}}, kFloat64), Tensor({{3.0}}, kFloat64));
    auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
    double c2 = sig(-1) * 3 + sig(1) * std::tanh(0.5);
    check_values(hc, {sig(2) * std::tanh(c2), c2}, 1e-12);
  }
  SUBCASE("matches the same math in small ops, forward and backward") {
    manual_seed(1);
    Tensor z = Tensor::randn({5, 12}).requires_grad_(), c = Tensor::randn({5, 3}).requires_grad_();
    Tensor hc = lstm_gates(z, c);
    Tensor z2 = z.detach().clone().requires_grad_(), c2 = c.detach().clone().requires_grad_();
    auto [h_ref, c_ref] = gates_by_small_ops(z2, c2);
    check_close("h'", hc.select(0, 0), h_ref);
    check_close("c'", hc.select(0, 1), c_ref);
    Tensor R = Tensor::randn({2, 5, 3});
    (hc * R).sum().backward();
    ((h_ref * R.select(0, 0)).sum() + (c_ref * R.select(0, 1)).sum()).backward();
    check_close("dz", z.grad(), z2.grad());
    check_close("dc", c.grad(), c2.grad());
  }
  SUBCASE("float64 gradcheck, also with a transposed (non-contiguous) gates") {
    manual_seed(3);
    CHECK(grad_ok([](const TensorList& x) { return lstm_gates(x[0], x[1]); },
                  {randn64({3, 8}), randn64({3, 2})}));
    CHECK(grad_ok([](const TensorList& x) { return lstm_gates(x[0].t(), x[1]); },
                  {randn64({12, 2}), randn64({2, 3})}));
    // large pre-activations: saturated gates, where sigmoid and tanh are flat
    CHECK(grad_ok([](const TensorList& x) { return lstm_gates(x[0] * 6.0, x[1]); },
                  {randn64({2, 8}), randn64({2, 2})}));
  }
  SUBCASE("float32 agrees with float64 over a wide range") {
    // The float kernels use their own vectorized sigmoid and tanh; float64 uses libm.
    // The reference sees exactly the float inputs.
    manual_seed(7);
    Tensor z = (Tensor::randn({64, 64}) * 8.0), c = Tensor::randn({64, 16}) * 4.0;
    auto in64 = [](const Tensor& t) { return t.to(kFloat64); };
    // With c = 0, c' = i g and h' = o tanh(i g): no cancellation, so the relative
    // error is that of the activations themselves, a few float ulps.
    Tensor c0 = Tensor::zeros({64, 16});
    check_close("float32 vs float64, c = 0", lstm_gates(z, c0), lstm_gates(in64(z), in64(c0)), 1e-6, 1e-30);
    // With c != 0, f c + i g can nearly cancel; then the error is float's rounding
    // of terms up to |c| ~ 16 (ulp 2e-6), not the activations'.
    check_close("float32 vs float64", lstm_gates(z, c), lstm_gates(in64(z), in64(c)), 1e-6, 4e-6);
  }
  SUBCASE("huge, infinite and NaN pre-activations") {
    // H = 1, z = (z_i, z_f, z_g, z_o): every gate saturated, i = 1, f = 0, g = 1, o = 0 or 1
    Tensor hc = lstm_gates(Tensor({{100.0, -100.0, 1e30, INFINITY}, {1e30, -INFINITY, -1e30, -100.0}}),
                           Tensor({{5.0}, {5.0}}));
    check_values(hc, {std::tanh(1.0), 0.0, 1.0, -1.0}, 1e-6);
    Tensor n = lstm_gates(Tensor({{NAN, 0.0, 0.0, 0.0}}), Tensor({{1.0}}));
    CHECK(std::isnan(n.at({1, 0, 0})));  // c' = f c + i g with i = NaN
  }
  SUBCASE("empty batch") {
    Tensor z = Tensor::zeros({0, 8}).requires_grad_();
    Tensor hc = lstm_gates(z, Tensor::zeros({0, 2}));
    CHECK(hc.shape() == Shape{2, 0, 2});
    hc.sum().backward();
    CHECK(z.grad().shape() == Shape{0, 8});
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(lstm_gates(Tensor::zeros({3, 7}), Tensor::zeros({3, 2})),
                            "lstm_gates: gates is [3, 7]; it must be [B, 4H]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_gates(Tensor::zeros({8}), Tensor::zeros({2})),
                            "lstm_gates: gates is [8]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_gates(Tensor::zeros({3, 8}), Tensor::zeros({3, 3})),
                            "lstm_gates: c is [3, 3]; it must be [B, H] = [3, 2]", ShapeError);
    CHECK_THROWS_AS(lstm_gates(Tensor::zeros({3, 8}), Tensor::zeros({3, 2}, kFloat64)), DTypeError);
    CHECK_THROWS_AS(lstm_gates(Tensor::zeros({3, 8}, kInt64), Tensor::zeros({3, 2}, kInt64)), DTypeError);
  }
}

namespace {

// lstm_layer against the same T steps written with small ops and lstm_gates,
// forward and backward (every input's gradient), with or without the biases.
void check_layer_against_small_ops(int64_t T, int64_t B, int64_t I, int64_t H, bool bias, DType dtype,
                                   double rtol, double atol) {
  TensorList in = {Tensor::randn({T, B, I}, dtype), Tensor::randn({4 * H, I}, dtype) * 0.3,
                   Tensor::randn({4 * H, H}, dtype) * 0.3, bias ? Tensor::randn({4 * H}, dtype) : Tensor(),
                   bias ? Tensor::randn({4 * H}, dtype) : Tensor(), Tensor::randn({B, H}, dtype),
                   Tensor::randn({B, H}, dtype)};
  TensorList ref_in;
  for (Tensor& t : in) {
    if (t.defined()) t.requires_grad_();
    ref_in.push_back(t.defined() ? t.detach().clone().requires_grad_() : Tensor());
  }
  Tensor out = lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
  REQUIRE(out.shape() == Shape{T + 1, B, H});

  Tensor h = ref_in[5], c = ref_in[6];
  std::vector<Tensor> hs;
  for (int64_t t = 0; t < T; ++t) {
    Tensor z = matmul(ref_in[0].select(0, t), ref_in[1].t()) + matmul(h, ref_in[2].t());
    if (bias) z = z + ref_in[3] + ref_in[4];
    Tensor hc = lstm_gates(z, c);
    h = hc.select(0, 0), c = hc.select(0, 1);
    hs.push_back(h);
  }
  hs.push_back(c);
  Tensor ref = stack(hs, 0);
  check_close("output", out, ref, rtol, atol);

  Tensor R = Tensor::randn({T + 1, B, H}, dtype);
  (out * R).sum().backward();
  (ref * R).sum().backward();
  const char* names[] = {"x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"};
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) check_close(std::string("grad ") + names[i], in[i].grad(), ref_in[i].grad(), rtol, atol);
}

}  // namespace

TEST_CASE("lstm_layer") {
  SUBCASE("matches a loop of small ops and lstm_gates steps, forward and backward") {
    manual_seed(2);
    check_layer_against_small_ops(/*T=*/4, /*B=*/3, /*I=*/5, /*H=*/2, /*bias=*/true, kFloat32, 1e-5, 1e-6);
  }
  SUBCASE("the same with the time loops split between threads") {
    // B x H x 4H = 4 x 136 x 544 is above kStepGrain, so each step's product and gate
    // math are shared out by hidden unit; 136 = 8.5 blocks of 16, so the threads'
    // shares differ (64 and 72 units with two threads). float64 checks the split
    // exactly; float32 runs the vectorized gate kernels on it.
    manual_seed(5);
    check_layer_against_small_ops(/*T=*/3, /*B=*/4, /*I=*/5, /*H=*/136, /*bias=*/true, kFloat64, 1e-10, 1e-12);
    check_layer_against_small_ops(/*T=*/3, /*B=*/4, /*I=*/5, /*H=*/136, /*bias=*/false, kFloat64, 1e-10, 1e-12);
    check_layer_against_small_ops(/*T=*/3, /*B=*/4, /*I=*/5, /*H=*/136, /*bias=*/true, kFloat32, 1e-4, 1e-5);
  }
  SUBCASE("called from inside another parallel region: a team of one thread does all") {
    // Nested parallel regions are off by default, so lstm_layer's own team has one
    // thread there and must still cover every unit.
    manual_seed(6);
    const int64_t T = 3, B = 4, I = 5, H = 136;
    TensorList in = {Tensor::randn({T, B, I}), Tensor::randn({4 * H, I}) * 0.3, Tensor::randn({4 * H, H}) * 0.3,
                     Tensor::randn({4 * H}), Tensor::randn({4 * H}), Tensor::randn({B, H}), Tensor::randn({B, H})};
    auto run = [&] { return lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5], in[6]); };
    Tensor alone = run();
    std::vector<Tensor> inside(2);
#pragma omp parallel num_threads(2)
    inside[omp_get_thread_num()] = run();  // each thread writes its own slot
    // float32 tolerances, not exact equality: with one thread OpenBLAS may pick another
    // kernel for the same product (its AVX-512 kernels do), which rounds differently.
    // A unit nobody computed would be off by far more than this.
    for (const Tensor& t : inside) check_close("inside a parallel region", t, alone, 1e-4, 1e-5);
  }
  SUBCASE("float64 gradcheck of every input, also non-contiguous ones, and without bias") {
    manual_seed(4);
    auto f = [](const TensorList& x) { return lstm_layer(x[0], x[1], x[2], x[3], x[4], x[5], x[6]); };
    CHECK(grad_ok(f, {randn64({4, 2, 3}), randn64({12, 3}), randn64({12, 3}) * 0.5, randn64({12}),
                      randn64({12}), randn64({2, 3}), randn64({2, 3})}));
    auto g = [](const TensorList& x) {  // x [T, B, in] from [B, T, in]; h0 from [H, B]; w_ih from [in, 4H]
      return lstm_layer(x[0].transpose(0, 1), x[1].t(), x[2], Tensor(), Tensor(), x[3].t(), x[4]);
    };
    CHECK(grad_ok(g, {randn64({2, 3, 2}), randn64({2, 8}), randn64({8, 2}), randn64({2, 2}),
                      randn64({2, 2})}));
    // one step, so W_hh's gradient comes from h0 alone
    CHECK(grad_ok(f, {randn64({1, 2, 2}), randn64({8, 2}), randn64({8, 2}), randn64({8}),
                      randn64({8}), randn64({2, 2}), randn64({2, 2})}));
  }
  SUBCASE("inputs that need no gradient get none") {
    Tensor x = Tensor::randn({3, 2, 4}), w_ih = Tensor::randn({8, 4}), w_hh = Tensor::randn({8, 2});
    Tensor h0 = Tensor::randn({2, 2}), c0 = Tensor::randn({2, 2}).requires_grad_();
    lstm_layer(x, w_ih, w_hh, Tensor(), Tensor(), h0, c0).sum().backward();
    CHECK(c0.grad().defined());
    CHECK_FALSE(x.grad().defined());
  }
  SUBCASE("errors") {
    Tensor x = Tensor::zeros({4, 3, 5}), wi = Tensor::zeros({8, 5}), w = Tensor::zeros({8, 2}),
           b = Tensor::zeros({8}), s = Tensor::zeros({3, 2});
    CHECK_THROWS_CONTAINING(lstm_layer(x, wi, Tensor::zeros({8, 3}), b, b, s, s),
                            "lstm_layer: w_hh is [8, 3]; it must be [4H, H]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(x, Tensor::zeros({8, 4}), w, b, b, s, s),
                            "so w_ih must be [4H, in] = [8, 5], but it is [8, 4]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(Tensor::zeros({12, 5}), wi, w, b, b, s, s),
                            "lstm_layer: x is [12, 5]; it must be [T, B, in] with T > 0", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(Tensor::zeros({0, 3, 5}), wi, w, b, b, s, s),
                            "lstm_layer: x is [0, 3, 5]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(x, wi, w, b, Tensor::zeros({4}), s, s),
                            "lstm_layer: a bias is [4]; it must be [4H] = [8]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(x, wi, w, b, Tensor(), s, s), "pass both biases or neither",
                            ValueError);
    CHECK_THROWS_CONTAINING(lstm_layer(x, wi, w, b, b, Tensor::zeros({2, 2}), s),
                            "lstm_layer: h0 is [2, 2]; it must be [B, H] = [3, 2]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm_layer(x, wi, w, b, b, s, Tensor::zeros({3, 3})),
                            "lstm_layer: c0 is [3, 3]", ShapeError);
    CHECK_THROWS_AS(lstm_layer(x, wi, w.to(kFloat64), b, b, s, s), DTypeError);
  }
}

// ==== the layers ==================================================================

TEST_CASE("LSTM") {
  SUBCASE("matches PyTorch: 2 layers, batch_first, with (h0, c0)") {
    LSTM lstm(4, 6, {.num_layers = 2, .batch_first = true});
    lstm.load_state_dict(params_of("lstm", lstm));
    Tensor x = fx_leaf("lstm.x"), h0 = fx_leaf("lstm.h0"), c0 = fx_leaf("lstm.c0");
    LSTMOutput r = lstm(x, h0, c0);
    REQUIRE(r.output.shape() == Shape{3, 5, 6});
    REQUIRE(r.h.shape() == Shape{2, 3, 6});
    check_close("lstm output", r.output, fx("lstm.out"));
    check_close("lstm h_n", r.h, fx("lstm.h"));
    check_close("lstm c_n", r.c, fx("lstm.c"));
    Tensor loss = (r.output * fx("lstm.R")).sum() + (r.h * fx("lstm.R2")).sum() + (r.c * fx("lstm.R3")).sum();
    loss.backward();
    check_close("lstm grad x", x.grad(), fx("lstm.grad.x"));
    check_close("lstm grad h0", h0.grad(), fx("lstm.grad.h0"));
    check_close("lstm grad c0", c0.grad(), fx("lstm.grad.c0"));
    check_param_grads("lstm", lstm);
  }
  SUBCASE("matches PyTorch: bidirectional, 2 layers, dropout 0.3 in eval mode") {
    LSTM lstm(4, 5, {.num_layers = 2, .batch_first = true, .dropout = 0.3, .bidirectional = true});
    CHECK(names_of(lstm) == std::vector<std::string>{
                                "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                                "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
                                "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"});
    CHECK(lstm.weight_ih[2].shape() == Shape{20, 10});  // layer 1 reads both directions: 2H
    lstm.load_state_dict(params_of("bilstm", lstm));
    lstm.eval();
    Tensor x = fx_leaf("bilstm.x"), h0 = fx_leaf("bilstm.h0"), c0 = fx_leaf("bilstm.c0");
    LSTMOutput r = lstm(x, h0, c0);
    REQUIRE(r.output.shape() == Shape{3, 6, 10});
    REQUIRE(r.h.shape() == Shape{4, 3, 5});
    check_close("bilstm output", r.output, fx("bilstm.out"));
    check_close("bilstm h_n", r.h, fx("bilstm.h"));
    check_close("bilstm c_n", r.c, fx("bilstm.c"));
    Tensor loss = (r.output * fx("bilstm.R")).sum() + (r.h * fx("bilstm.R2")).sum() + (r.c * fx("bilstm.R3")).sum();
    loss.backward();
    check_close("bilstm grad x", x.grad(), fx("bilstm.grad.x"));
    check_close("bilstm grad h0", h0.grad(), fx("bilstm.grad.h0"));
    check_close("bilstm grad c0", c0.grad(), fx("bilstm.grad.c0"));
    check_param_grads("bilstm", lstm);

    // In training mode the dropout between the layers is on: the output changes,
    // the first layer's final states (before any dropout) do not.
    lstm.train();
    LSTMOutput t = lstm(x, h0, c0);
    CHECK(max(abs(t.output - r.output)).item() > 1e-3);
    check_close("bilstm layer 0 h_n in training", t.h.slice(0, 0, 2), r.h.slice(0, 0, 2));
  }
  SUBCASE("matches PyTorch: a padded batch of different lengths (pack_padded_sequence)") {
    LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true});
    lstm.load_state_dict(params_of("packed", lstm));
    Tensor x = fx_leaf("packed.x"), h0 = fx_leaf("packed.h0"), c0 = fx_leaf("packed.c0");
    LSTMOutput r = lstm.forward_padded(x, fx("packed.lengths"), h0, c0);
    REQUIRE(r.output.shape() == Shape{5, 4, 8});
    check_close("packed output", r.output, fx("packed.out"));
    CHECK(r.output.select(0, 4).select(0, 1).abs().sum().item() == 0);  // padding is zero
    check_close("packed h_n", r.h, fx("packed.h"));
    check_close("packed c_n", r.c, fx("packed.c"));
    Tensor loss = (r.output * fx("packed.R")).sum() + (r.h * fx("packed.R2")).sum() + (r.c * fx("packed.R3")).sum();
    loss.backward();
    check_close("packed grad x", x.grad(), fx("packed.grad.x"));  // zero at the padding
    check_close("packed grad h0", h0.grad(), fx("packed.grad.h0"));
    check_close("packed grad c0", c0.grad(), fx("packed.grad.c0"));
    check_param_grads("packed", lstm);

    LSTM batch_first(3, 4, {.batch_first = true});
    CHECK(batch_first.forward_padded(Tensor::randn({2, 5, 3}), Tensor({{3}, {5}}, kInt64).reshape({2})).output.shape() ==
          Shape{2, 5, 4});
    CHECK_THROWS_CONTAINING(lstm.forward_padded(x.detach(), Tensor({5, 0, 4, 2}, kInt64)),
                            "lengths[1] is 0; each length must be in [1, T = 5]", ValueError);
    CHECK_THROWS_CONTAINING(lstm.forward_padded(x.detach(), Tensor({5, 2}, kInt64)), "lengths must be int64 [B] = [4]",
                            ShapeError);
  }
  SUBCASE("matches PyTorch: 1 layer, time-major, no initial state") {
    LSTM lstm(3, 4);
    lstm.load_state_dict(params_of("lstm0", lstm));
    Tensor x = fx_leaf("lstm0.x");
    LSTMOutput r = lstm(x);
    check_close("lstm0 output", r.output, fx("lstm0.out"));
    check_close("lstm0 h_n", r.h, fx("lstm0.h"));
    check_close("lstm0 c_n", r.c, fx("lstm0.c"));
    ((r.output * fx("lstm0.R")).sum() + (r.h * fx("lstm0.R2")).sum() + (r.c * fx("lstm0.R3")).sum())
        .backward();
    check_close("lstm0 grad x", x.grad(), fx("lstm0.grad.x"));
    check_param_grads("lstm0", lstm);
  }
  SUBCASE("named_parameters: PyTorch's names, order and shapes") {
    LSTM lstm(4, 6, {.num_layers = 2});
    // printed by tests/reference/lstm.py from torch.nn.LSTM(4, 6, num_layers=2)
    CHECK(names_of(lstm) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                     "bias_hh_l0", "weight_ih_l1", "weight_hh_l1",
                                                     "bias_ih_l1", "bias_hh_l1"});
    CHECK(lstm.weight_ih[0].shape() == Shape{24, 4});
    CHECK(lstm.weight_ih[1].shape() == Shape{24, 6});
    CHECK(lstm.weight_hh[1].shape() == Shape{24, 6});
    CHECK(lstm.bias_hh[1].shape() == Shape{24});
    // torch.nn.LSTM(4, 6, 2, bias=False)._flat_weights_names
    CHECK(names_of(LSTM(4, 6, {.num_layers = 2, .bias = false})) ==
          std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"});
  }
  SUBCASE("init: U(-1/sqrt(H), 1/sqrt(H)) for every parameter") {
    manual_seed(3);
    LSTM lstm(5, 16, {.num_layers = 2});
    for (auto& named : lstm.named_parameters()) {
      const std::string& name = named.first;  // not a structured binding: INFO's lambda uses it
      Tensor& p = named.second;
      INFO(name);
      double m = 0;
      for (double v : p.to_vector<double>()) m = std::max(m, std::abs(v));
      CHECK(m <= 0.25);
      CHECK(m > 0.2);  // at least 64 draws from U(-0.25, 0.25): the largest is near the bound
    }
  }
  SUBCASE("float64 gradcheck: input, h0 and c0; parameters") {
    manual_seed(4);
    LSTM lstm(3, 2, {.num_layers = 2, .batch_first = true});
    lstm.to(kFloat64);
    auto f = [&](const TensorList& x) {
      LSTMOutput r = lstm(x[0], x[1], x[2]);
      return flat({r.output, r.h, r.c});
    };
    CHECK(grad_ok(f, {randn64({2, 3, 3}), randn64({2, 2, 2}), randn64({2, 2, 2})}));
    // a sliced (non-contiguous) input, default zero state
    CHECK(grad_ok([&](const TensorList& x) { return lstm(x[0].slice(2, 0, 3)).output; },
                  {randn64({2, 4, 5})}));
    Tensor x = randn64({2, 3, 3});
    CHECK(module_gradcheck(lstm, [&] {
      LSTMOutput r = lstm(x);
      return flat({r.output, r.c});
    }));
  }
  SUBCASE("unbatched [T, in] input equals a batch of one") {
    manual_seed(5);
    LSTM lstm(3, 4, {.num_layers = 2});
    Tensor x = Tensor::randn({6, 3}), h0 = Tensor::randn({2, 4}), c0 = Tensor::randn({2, 4});
    LSTMOutput u = lstm(x, h0, c0);
    REQUIRE(u.output.shape() == Shape{6, 4});
    REQUIRE(u.h.shape() == Shape{2, 4});
    REQUIRE(u.c.shape() == Shape{2, 4});
    LSTMOutput b = lstm(x.unsqueeze(1), h0.unsqueeze(1), c0.unsqueeze(1));
    check_close("unbatched output", u.output, b.output.squeeze(1));
    check_close("unbatched h", u.h, b.h.squeeze(1));
    check_close("unbatched c", u.c, b.c.squeeze(1));
  }
  SUBCASE("backward through 10,000 steps does not overflow the stack") {
    LSTM lstm(2, 3);
    Tensor x = Tensor::randn({10000, 1, 2}).requires_grad_();
    LSTMOutput r = lstm(x);
    r.output.sum().backward();
    REQUIRE(x.grad().defined());
    double s = abs(x.grad()).sum().item();
    CHECK(std::isfinite(s));
    CHECK(s > 0);
  }
  SUBCASE("errors") {
    LSTM lstm(4, 6, {.num_layers = 2, .batch_first = true});
    CHECK_THROWS_CONTAINING(lstm(Tensor::zeros({3, 5, 5})),
                            "LSTM: input is [3, 5, 5]; it must be [B, T, input_size]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm(Tensor::zeros({3, 5, 4, 1})), "LSTM: input is [3, 5, 4, 1]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm(Tensor::zeros({4})), "LSTM: input is [4]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm(Tensor::zeros({3, 0, 4})), "the sequence length T must be > 0",
                            ShapeError);
    Tensor x = Tensor::zeros({3, 5, 4}), s = Tensor::zeros({2, 3, 6});
    CHECK_THROWS_CONTAINING(lstm(x, Tensor::zeros({2, 3, 7}), s),
                            "LSTM: the initial h is [2, 3, 7]; it must be [num_layers * directions, B, H] = [2, 3, 6]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(lstm(x, s, Tensor::zeros({1, 3, 6})), "the initial c is [1, 3, 6]", ShapeError);
    CHECK_THROWS_CONTAINING(lstm(x, s), "pass both the initial h and c, or neither", ValueError);
    CHECK_THROWS_CONTAINING(lstm(x.to(kFloat64)), "LSTM: input is float64 but the parameters are float32",
                            DTypeError);
    CHECK_THROWS_CONTAINING(lstm(x, s.to(kFloat64), s.to(kFloat64)), "LSTM: h is float64", DTypeError);
    CHECK_THROWS_CONTAINING(LSTM(4, 6, {.num_layers = 0}), "num_layers is 0", ValueError);
    CHECK_THROWS_CONTAINING(LSTM(4, 6, {.dropout = 1.0}), "dropout is 1; it must be in [0, 1)", ValueError);
    CHECK_THROWS_CONTAINING(LSTM(-1, 6), "must be >= 0", ValueError);
  }
}

TEST_CASE("LSTMCell") {
  SUBCASE("matches PyTorch, with (h, c)") {
    LSTMCell cell(4, 5);
    cell.load_state_dict(params_of("cell", cell));
    Tensor x = fx_leaf("cell.x"), h0 = fx_leaf("cell.h0"), c0 = fx_leaf("cell.c0");
    auto [h, c] = cell(x, h0, c0);
    check_close("cell h'", h, fx("cell.h"));
    check_close("cell c'", c, fx("cell.c"));
    ((h * fx("cell.R")).sum() + (c * fx("cell.R3")).sum()).backward();
    check_close("cell grad x", x.grad(), fx("cell.grad.x"));
    check_close("cell grad h", h0.grad(), fx("cell.grad.h0"));
    check_close("cell grad c", c0.grad(), fx("cell.grad.c0"));
    check_param_grads("cell", cell);
  }
  SUBCASE("matches PyTorch, no state (zeros)") {
    LSTMCell cell(4, 5);
    cell.load_state_dict(params_of("cell0", cell));
    Tensor x = fx_leaf("cell0.x");
    auto [h, c] = cell(x);
    check_close("cell0 h'", h, fx("cell0.h"));
    check_close("cell0 c'", c, fx("cell0.c"));
    ((h * fx("cell0.R")).sum() + (c * fx("cell0.R3")).sum()).backward();
    check_close("cell0 grad x", x.grad(), fx("cell0.grad.x"));
    check_param_grads("cell0", cell);
  }
  SUBCASE("named_parameters and shapes") {
    LSTMCell cell(4, 5);
    CHECK(names_of(cell) == std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
    CHECK(cell.weight_ih.shape() == Shape{20, 4});
    CHECK(cell.weight_hh.shape() == Shape{20, 5});
    CHECK(cell.bias_ih.shape() == Shape{20});
    LSTMCell nb(4, 5, /*bias=*/false);
    CHECK(names_of(nb) == std::vector<std::string>{"weight_ih", "weight_hh"});
  }
  SUBCASE("float64 gradcheck: input, h, c (also unbatched); parameters") {
    manual_seed(6);
    LSTMCell cell(3, 2);
    cell.to(kFloat64);
    auto f = [&](const TensorList& x) {
      auto [h, c] = cell(x[0], x[1], x[2]);
      return flat({h, c});
    };
    CHECK(grad_ok(f, {randn64({4, 3}), randn64({4, 2}), randn64({4, 2})}));
    CHECK(grad_ok(f, {randn64({3}), randn64({2}), randn64({2})}));
    CHECK(grad_ok([&](const TensorList& x) { return cell(x[0].t()).h; }, {randn64({3, 4})}));
    Tensor x = randn64({4, 3}), h0 = randn64({4, 2}), c0 = randn64({4, 2});
    CHECK(module_gradcheck(cell, [&] {
      auto [h, c] = cell(x, h0, c0);
      return flat({h, c});
    }));
  }
  SUBCASE("a cell run at several steps: each step adds its weight gradients into the sum") {
    // The engine offers each step's backward the sum of the later steps' gradients
    // (autograd/engine.h: gradient_sum_of_input), and the cell's products add into
    // it. Checked numerically in float64, and in float32 against anomaly mode,
    // where the engine offers no sum and adds fresh tensors as before.
    manual_seed(7);
    auto run = [](const LSTMCell& cell, const Tensor& xs) {  // xs [steps, B, in]
      Tensor h, c, total = Tensor::zeros({}, xs.dtype());
      for (int64_t t = 0; t < xs.size(0); ++t) {
        auto s = cell(xs.select(0, t), h, c);
        h = s.h, c = s.c;
        total = total + (h * h).sum();
      }
      return total;
    };
    // in : H within a factor of 2 runs each pair of products side by side
    // (gemm_pair), beyond it one after the other: both checked.
    for (auto [in, hidden] : {std::pair<int64_t, int64_t>{3, 4}, {2, 5}}) {
      LSTMCell cell64(in, hidden);
      cell64.to(kFloat64);
      Tensor xs64 = randn64({5, 2, in});
      CHECK(module_gradcheck(cell64, [&] { return run(cell64, xs64); }));
    }

    LSTMCell cell(8, 16);
    Tensor xs = Tensor::randn({6, 4, 8});
    run(cell, xs).backward();
    std::vector<std::vector<double>> in_place;
    for (const Tensor& p : cell.parameters()) in_place.push_back(p.grad().to_vector<double>());
    cell.zero_grad();
    {
      DetectAnomalyGuard anomaly;
      run(cell, xs).backward();
    }
    size_t i = 0;
    for (const Tensor& p : cell.parameters()) check_values(p.grad(), in_place[i++], 1e-5);
  }
  SUBCASE("unbatched shapes") {
    LSTMCell cell(3, 2);
    auto [h, c] = cell(Tensor::randn({3}));
    CHECK(h.shape() == Shape{2});
    CHECK(c.shape() == Shape{2});
  }
  SUBCASE("a loop of 10,000 cell steps backpropagates without overflowing the stack") {
    LSTMCell cell(2, 3);
    Tensor x = Tensor::randn({1, 2}).requires_grad_();
    Tensor h = Tensor::zeros({1, 3}), c = Tensor::zeros({1, 3});
    for (int i = 0; i < 10000; ++i) {
      LSTMState s = cell(x, h, c);
      h = s.h, c = s.c;
    }
    (h.sum() + c.sum()).backward();
    REQUIRE(x.grad().defined());
    CHECK(std::isfinite(abs(x.grad()).sum().item()));
  }
  SUBCASE("errors") {
    LSTMCell cell(4, 5);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({3, 3})),
                            "LSTMCell: input is [3, 3]; it must be [B, input_size] or [input_size]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({2, 3, 4})), "LSTMCell: input is [2, 3, 4]", ShapeError);
    Tensor x = Tensor::zeros({3, 4}), s = Tensor::zeros({3, 5});
    CHECK_THROWS_CONTAINING(cell(x, Tensor::zeros({3, 4}), s),
                            "LSTMCell: the initial h is [3, 4]; it must be [B, H] = [3, 5]", ShapeError);
    CHECK_THROWS_CONTAINING(cell(x, s, Tensor::zeros({5})), "the initial c is [5]", ShapeError);
    CHECK_THROWS_CONTAINING(cell(x, Tensor(), s), "only c was given", ValueError);
    CHECK_THROWS_CONTAINING(cell(x.to(kFloat64)), "LSTMCell: input is float64", DTypeError);
    CHECK_THROWS_CONTAINING(cell(Tensor::zeros({3, 4}, kInt64)), "it must be float32 or float64", DTypeError);
  }
}
