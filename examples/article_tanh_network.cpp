// A tanh network's gradient, derived by hand and checked against autograd.
//
// Ports: seeds/001_ffd0e30f6ac6fe40.txt, section 4 "具体代码实例和详细解释说明":
// 4.1 the "simple attention network" (input 10, hidden 10, output 5, lr 0.01;
// NumPy, a hand-written backward) and 4.2 its "more complex" variant.
//
//   h = tanh(x W1 + b1)   y = h W2 + b2          (the article's x W layout: W1 is [10, 10])
//
// What the original got wrong (its backward, line by line):
//   - dy = y_hat - y with y_hat the target: the wrong sign. Subtracting lr * dW
//     then climbs the loss instead of descending it. Here dy = y - target.
//   - dW2 = x.T dy: the second layer's input is h, not x (the shapes only fit
//     because input and hidden are both 10). Here dW2 = h^T dy.
//   - db2 = sum(dy, axis=1, keepdims=True): sums over the outputs instead of over
//     the batch, and keeps a dim b2 does not have. Here db2 = sum of dy over rows.
//   - dW1 = x.T (dh.dot(W2) * (1 - tanh(h)^2)): dh = dy W2^T already went through
//     W2, so W2 is applied twice, and h is already tanh(z), so tanh(h) takes tanh
//     twice (h is not even in scope in backward: a NameError). tanh'(z) = 1 - h^2.
//   - db1 = sum(dh, ...): skips the tanh derivative. Here db1 = sum of dz1.
//   - The calls fail before any of that: x is a 1-D vector (np.dot(x.T, dy)
//     multiplies a 10-vector by a 5-vector), and backward(x, y, y_hat) uses a y
//     that was never assigned (forward's result is thrown away).
//   - The "more complex" network takes num_layers and num_units and ignores them:
//     it is the simple network again. Here it really has two hidden layers.
//   - W = np.random.randn(...) has variance 1, so z = x W1 has variance 10 and
//     tanh starts saturated (slope near 0): in a trial run the loss starts at 17
//     instead of 1.8. Here W ~ N(0, 1/fan_in), which keeps z's variance near 1.
//
// How heed does it: the forward pass is built from heed ops, so loss.backward()
// gives every gradient; the hand derivation sits next to it and the two are
// compared (--check wants them to agree to 1e-5, relative). Then both networks
// train with the article's plain gradient descent (optim::SGD, lr 0.01) on a
// task they can learn: imitating a fixed random "teacher" network.
//
//   article_tanh_network [--seed N] [--steps STEPS] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/plot.h"
#include "heed/optim/sgd.h"

using namespace heed;

// ---- the network ---------------------------------------------------------------
// Layer l maps width n_l to n_{l+1}: z = h W[l] + b[l], then tanh on every layer
// but the last (the output is linear, as in the article).
struct TanhNetwork {
  std::vector<Tensor> W;  // W[l]: [n_l, n_{l+1}]
  std::vector<Tensor> b;  // b[l]: [n_{l+1}]

  // sizes: {10, 10, 5} is the article's network, {10, 10, 10, 5} the deeper one.
  explicit TanhNetwork(const std::vector<int64_t>& sizes) {
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const double scale = 1.0 / std::sqrt(static_cast<double>(sizes[l]));  // N(0, 1/fan_in)
      W.push_back((Tensor::randn({sizes[l], sizes[l + 1]}) * scale).requires_grad_());
      b.push_back(Tensor::zeros({sizes[l + 1]}).requires_grad_());
    }
  }

  std::vector<Tensor> parameters() const {
    std::vector<Tensor> all = W;
    all.insert(all.end(), b.begin(), b.end());
    return all;
  }

  // x: [N, n_0] -> y: [N, n_last]. If `inputs` is given, it receives each layer's
  // input h[l] ([N, n_l]; h[0] = x): the hand-written backward needs them.
  Tensor forward(const Tensor& x, std::vector<Tensor>* inputs = nullptr) const {
    Tensor h = x;
    for (size_t l = 0; l < W.size(); ++l) {
      if (inputs) inputs->push_back(h);
      Tensor z = matmul(h, W[l]) + b[l];  // [N, n_l] x [n_l, n_{l+1}] -> [N, n_{l+1}]
      h = l + 1 < W.size() ? tanh(z) : z;
    }
    return h;
  }
};

// The loss, as the article's dy = y - y_hat implies: half the squared error,
// summed over the outputs and averaged over the N samples.
//   L = 1/(2N) sum_n sum_j (y_nj - t_nj)^2,   dL/dy = (y - t) / N
Tensor half_squared_error(const Tensor& y, const Tensor& target) {
  return (y - target).pow(2).sum() * (0.5 / static_cast<double>(y.size(0)));
}

// ---- the gradient, by hand -------------------------------------------------------
// Reverse the forward pass one layer at a time. In the forward, layer l made
// z = h W + b from its input h, so:
//   dW = h^T dz    [n_l, N] x [N, n_{l+1}]    (each sample adds its outer product)
//   db = sum of dz over the batch (rows)      (b was added to every row)
//   dh = dz W^T    [N, n_{l+1}] x [n_{l+1}, n_l]
// and h came out of tanh (for l > 0), whose slope in terms of its output is 1 - h^2:
//   dz_{l-1} = dh * (1 - h^2)
// Returns the gradients in parameters() order: every W, then every b.
std::vector<Tensor> hand_backward(const TanhNetwork& net, const Tensor& x, const Tensor& target) {
  NoGradGuard no_grad;  // plain arithmetic: nothing here is recorded
  std::vector<Tensor> h;
  Tensor y = net.forward(x, &h);
  const size_t L = net.W.size();
  std::vector<Tensor> dW(L), db(L);
  Tensor dz = (y - target) / static_cast<double>(x.size(0));  // dL/dy = (y - t) / N, [N, n_L]
  for (size_t l = L; l-- > 0;) {
    dW[l] = matmul(h[l].t(), dz);  // [n_l, n_{l+1}]
    db[l] = dz.sum({0});           // [n_{l+1}]
    if (l == 0) break;
    Tensor dh = matmul(dz, net.W[l].t());  // [N, n_l]
    dz = dh * (1.0 - h[l].pow(2));         // through the tanh that made h[l]
  }
  std::vector<Tensor> grads = dW;
  grads.insert(grads.end(), db.begin(), db.end());
  return grads;
}

// Largest |hand - autograd| over all gradients, and the same divided by the
// largest |autograd| entry (a relative error that ignores the gradients' scale).
struct GradientComparison {
  double max_abs_diff = 0, max_abs_grad = 0;
  double relative() const { return max_abs_diff / max_abs_grad; }
};

GradientComparison compare_gradients(TanhNetwork& net, const Tensor& x, const Tensor& target) {
  std::vector<Tensor> by_hand = hand_backward(net, x, target);
  for (Tensor& p : net.parameters()) p.zero_grad();
  half_squared_error(net.forward(x), target).backward();  // autograd
  std::vector<Tensor> params = net.parameters();
  GradientComparison c;
  for (size_t i = 0; i < params.size(); ++i) {
    c.max_abs_diff = std::max(c.max_abs_diff, max(abs(by_hand[i] - params[i].grad())).item());
    c.max_abs_grad = std::max(c.max_abs_grad, max(abs(params[i].grad())).item());
  }
  return c;
}

int main(int argc, char** argv) {
  CLI::App app{"The article's tanh network (10-10-5) and a deeper one: hand-derived gradients vs autograd"};
  uint64_t seed = 0;
  int64_t steps = 2000;
  std::string out = "out/article_tanh_network";
  bool check = false;
  examples::add_common_options(app, seed, steps, out, check,
                               "gradient-descent steps per network",
                               "verify: gradients agree to 1e-5 relative, losses fell; exit 1 if not");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto start = std::chrono::steady_clock::now();
    examples::prepare_run(seed, out);

    // ---- setup: inputs, and targets a network of this kind can reach ------------------
    // The article pairs one random x with one random y_hat. A batch of 64 inputs and
    // the outputs of a fixed random teacher (hidden width 16) make a task whose
    // loss can fall toward 0.
    const int64_t N = 64, input_size = 10, hidden_size = 10, output_size = 5;
    const double learning_rate = 0.01;
    Tensor x = Tensor::randn({N, input_size});  // [64, 10]
    Tensor target;                              // [64, 5]
    {
      NoGradGuard no_grad;
      TanhNetwork teacher({input_size, 16, output_size});
      for (Tensor& bias : teacher.b) bias.copy_(Tensor::randn(bias.shape()) * 0.1);
      target = teacher.forward(x);
    }

    struct Run {
      std::string name;
      std::vector<int64_t> sizes;
    };
    const std::vector<Run> runs = {
        {"simple (10-10-5)", {input_size, hidden_size, output_size}},
        // The article's num_layers = 2, num_units = 10, now actually used.
        {"deeper (10-10-10-5)", {input_size, hidden_size, hidden_size, output_size}},
    };

    std::vector<examples::Series> curves;
    int failures = 0;
    auto expect = [&](bool ok, const std::string& what) {
      if (!check) return;
      std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
      failures += !ok;
    };

    for (const Run& run : runs) {
      TanhNetwork net(run.sizes);
      std::cout << "== " << run.name << " network\n";

      // ---- 1. the hand-derived gradient next to autograd's -----------------------------
      GradientComparison before = compare_gradients(net, x, target);
      std::cout << std::scientific << std::setprecision(2) << "hand-derived vs autograd gradient: max |diff| "
                << before.max_abs_diff << ", relative " << before.relative() << " (largest entry "
                << before.max_abs_grad << ")\n"
                << std::defaultfloat << std::setprecision(6);
      expect(before.relative() < 1e-5, "gradients agree before training");

      // ---- 2. the loop: forward, loss, backward, step ------------------------------------
      // The article's update, p -= lr * dp, is SGD without momentum.
      optim::SGD optimizer(net.parameters(), {.lr = learning_rate});
      examples::Series curve{run.name, {}, {}};
      for (int64_t step = 0; step < steps; ++step) {
        optimizer.zero_grad();
        Tensor loss = half_squared_error(net.forward(x), target);
        loss.backward();
        optimizer.step();
        curve.x.push_back(static_cast<double>(step));
        curve.y.push_back(loss.item());
        if (step % std::max<int64_t>(1, steps / 10) == 0)
          std::cout << "step " << std::setw(5) << step << "  loss " << loss.item() << "\n";
      }
      double final_loss;
      {
        NoGradGuard no_grad;
        final_loss = half_squared_error(net.forward(x), target).item();
      }
      std::cout << "final loss " << final_loss << " (from " << curve.y.front() << ")"
                << (final_loss < curve.y.front() ? "  loss decreased" : "") << "\n";

      // ---- 3. the derivation holds anywhere, not only at the starting point -----------
      GradientComparison after = compare_gradients(net, x, target);
      std::cout << std::scientific << std::setprecision(2) << "after training, max |diff| " << after.max_abs_diff
                << ", relative " << after.relative() << std::defaultfloat << std::setprecision(6) << "\n\n";
      expect(after.relative() < 1e-5, "gradients agree after training");
      expect(std::isfinite(final_loss) && final_loss < 0.5 * curve.y.front(), "the loss fell by more than half");
      curves.push_back(std::move(curve));
    }

    // What it means: the derivation above is what autograd does for you, node by
    // node. Here the two agree exactly (difference 0): autograd runs the same
    // kernels (matmul with a transposed view, a sum over the batch) in the same
    // order; summing in another order would differ by float32 rounding, ~1e-7.
    // The article's version does not run, and fixed only enough to run it would
    // climb the loss (its dy has the wrong sign). Leaving out the tanh derivative
    // (as the article's db1 does) makes the relative difference about 1, not 1e-7.
    const std::string png = out + "/tanh_network_loss.png";
    examples::save_line_plot(png, curves,
                             {.title = "tanh networks, gradient descent lr 0.01", .y_label = "loss", .log_y = true});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "wrote " << png << " (" << seconds << " s)\n";
    expect(std::filesystem::file_size(png) > 0, "wrote " + png);
    if (check) std::cout << (failures == 0 ? "all checks passed\n" : "CHECKS FAILED\n");
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "article_tanh_network: " << e.what() << "\n";
    return 1;
  }
}
