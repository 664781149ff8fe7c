// The benchmark workloads: names, shapes and FLOP counts, in one place, so the
// heed program (heed_bench.cpp) and the libtorch program (torch_bench.cpp)
// cannot drift apart. Each program writes every workload with its own library
// and hands a `Workload` (one training step as a closure) to run_main(), which
// times it or measures its memory the same way for both (timing.h).
//
//   W1  the self-attention model of seed text 000 section 4: Q, K, V = three
//       Linear(50, .) of x [10, 50] (V is Linear(50, 1)), softmax(Q K^T / sqrt(50)) V,
//       loss mean((out - target)^2) with target [10, 50]; Adam (lr 1e-3).
//   W2  self-attention layer, d = 256 (q, k, v, out projections, one head),
//       x [B=16, T, 256]; MSE against a random target; Adam. T = 128 (and 64..512).
//   W3  LSTM(128 -> 256), batch_first, x [B=32, T, 128]; loss = sum of the
//       outputs; backward (no optimizer). T = 50 (and 100..400).
//   W4  seq2seq: Embedding(16, 32) shared by both sides; LSTM encoder 32 -> 128 over
//       T = 20 source tokens; LSTMCell decoder (input [embedding, previous context]
//       = 32 + 128 -> 128) for 20 steps with teacher forcing and dot attention over
//       the encoder outputs; Linear(256 -> 16) on [h, context]; cross-entropy; Adam. B = 32.
//   W5  the tanh network of seed text 001: Linear(10, 10), tanh, Linear(10, 5) on
//       one sample [1, 10]; MSE; SGD (lr 0.01).
//   W6  a 1024 x 1024 matmul forward and backward with loss = sum of the product.
//   W7  one training step of examples/gpt's byte-level GPT: B = 8 windows of T = 128
//       bytes, 4 pre-norm blocks, C = 256, 4 heads, vocabulary 256, tied embeddings;
//       cross-entropy of the next byte; AdamW (lr 1e-3, betas 0.9, 0.95, weight decay 0.1).
//   W8  generation with a KV cache: that GPT with a context of 512, one new byte
//       at position T - 1 over T - 1 cached ones (B = 1, no grad). W8_T64 .. W8_T512.
//
// Every step includes zero_grad (the optimizer's, or the tensors' for W3/W6),
// as a training loop's does. Inputs and weights are drawn from a fixed seed (0)
// with each library's generator and its default initializers (PyTorch's, which
// heed copies), so the distributions match though the numbers do not.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "timing.h"

namespace bench {

// ---- shapes --------------------------------------------------------------------
inline constexpr int64_t kW1Rows = 10, kW1Dim = 50;
inline constexpr int64_t kW2Batch = 16, kW2Dim = 256;
inline constexpr int64_t kW3Batch = 32, kW3In = 128, kW3Hidden = 256;
inline constexpr int64_t kW4Batch = 32, kW4Vocab = 16, kW4Embed = 32, kW4Hidden = 128;
inline constexpr int64_t kW4SrcLen = 20, kW4TgtLen = 20;
inline constexpr int64_t kW5In = 10, kW5Hidden = 10, kW5Out = 5;
inline constexpr int64_t kW6N = 1024;
inline constexpr int64_t kW7Batch = 8, kW7T = 128, kW7Layers = 4, kW7Embd = 256, kW7Heads = 4, kW7Vocab = 256;
inline constexpr int64_t kW8Context = 512;

// ---- matrix-product FLOPs per step (2 per multiply-add) ---------------------------
// Counted as the products a training step must do: the input x of W2 and W3 needs
// no gradient, so no product for dx is counted (neither library computes one).
// W2's count is the layer as written, libtorch's step; heed's own is fewer
// (w2_folded_gflop), and each program reports its own.
//
// W2: forward  4 projections 4 * 2BTd^2, scores and weights*v 2 * 2BT^2d;
//     backward dW of 4 projections 4 * 2BTd^2, d(context) through out_proj 2BTd^2,
//     d(weights), dv, dq, dk 4 * 2BT^2d.
inline double w2_gflop(int64_t T) {
  const double B = kW2Batch, d = kW2Dim, t = static_cast<double>(T);
  return 2 * B * t * d * (9 * d + 6 * t) / 1e9;
}
// W2 as heed does it: nn::SelfAttention folds v_proj into out_proj (Wo Wv, one
// d^3 product, and two more in the backward), so the output product and the
// two of its backward are gone: 2BTd(6d + 6T) + 3 * 2d^3.
inline double w2_folded_gflop(int64_t T) {
  const double B = kW2Batch, d = kW2Dim, t = static_cast<double>(T);
  return (2 * B * t * d * (6 * d + 6 * t) + 6 * d * d * d) / 1e9;
}
// W3: forward x W_ih^T and h W_hh^T, backward dW_ih, dW_hh and dh_{t-1} = dz W_hh:
//     2 BT 4H (in + H) + 2 BT 4H (in + 2H) = 2 BT 4H (2 in + 3H).
inline double w3_gflop(int64_t T) {
  const double B = kW3Batch, in = kW3In, H = kW3Hidden, t = static_cast<double>(T);
  return 2 * B * t * 4 * H * (2 * in + 3 * H) / 1e9;
}
// W6: C = A B, dA = dC B^T, dB = A^T dC: three N^3 products.
inline double w6_gflop() {
  const double n = kW6N;
  return 3 * 2 * n * n * n / 1e9;
}

// W7's FLOPs with `scores` of the [T, T] attention scores computed per head and
// batch entry: per layer forward, the products with weights 2BT(3C^2 + C^2 + 8C^2)
// and attention's two 2 B scores C; the tied output projection 2BTCV; the
// backward twice the forward.
inline double w7_gflop_with(double scores) {
  const double B = kW7Batch, T = kW7T, C = kW7Embd, L = kW7Layers, V = kW7Vocab;
  const double forward = L * (2 * B * T * 12 * C * C + 4 * B * scores * C) + 2 * B * T * C * V;
  return 3 * forward / 1e9;
}
// The model's own FLOPs, counted as nanoGPT and PaLM count them: all of the
// [T, T] scores, though causal attention needs about half of them.
inline double w7_gflop() { return w7_gflop_with(static_cast<double>(kW7T) * kW7T); }
// The fewest: only the T (T + 1) / 2 scores causal attention needs. No program
// can do less work for the step, so this work at the measured sgemm peak is a
// floor under any library's step time on the machine (report.awk: "W7's floor").
inline double w7_floor_gflop() { return w7_gflop_with(static_cast<double>(kW7T) * (kW7T + 1) / 2); }

// ---- the list ----------------------------------------------------------------------
struct Spec {
  std::string name;    // what --workload takes: W1 .. W6, W2_T64, W3_T400, ...
  std::string family;  // "W1" .. "W6"
  int64_t T = 0;       // sequence length for W2 and W3 (0 for the others)
  double gflop = 0;    // matrix-product work per step, 0 where not reported
  double floor_gflop = 0;  // the fewest product FLOPs any program needs for the step, 0 where not reported
};

inline std::vector<Spec> all_specs() {
  std::vector<Spec> s = {
      {"W1", "W1", 0, 0},
      {"W2", "W2", 128, w2_gflop(128)},
      {"W3", "W3", 50, w3_gflop(50)},
      {"W4", "W4", 0, 0},
      {"W5", "W5", 0, 0},
      {"W6", "W6", 0, w6_gflop()},
      {"W7", "W7", kW7T, w7_gflop(), w7_floor_gflop()},
  };
  // The scaling rows (W2 at T = 128 and W3 at T = 50 are W2 and W3 themselves).
  for (int64_t T : {64, 256, 512}) s.push_back({"W2_T" + std::to_string(T), "W2", T, w2_gflop(T)});
  for (int64_t T : {100, 200, 400}) s.push_back({"W3_T" + std::to_string(T), "W3", T, w3_gflop(T)});
  for (int64_t T : {64, 128, 256, 512}) s.push_back({"W8_T" + std::to_string(T), "W8", T, 0});
  return s;
}

// One workload, built by a program: step() is one full training step.
// last_loss() reads the loss of the last step (for the info line: a NaN or a loss
// that does not fall says the workload is broken, not fast).
struct Workload {
  std::function<void()> step;
  std::function<double()> last_loss;
  double gflop = 0;  // if nonzero: this program's product work, where it differs from the spec's
};

// The main loop every program shares. make(spec) builds a workload with the
// program's library; threads is only echoed into the output.
template <class Make>
int run_main(const Args& args, int threads, Make&& make) {
  const std::vector<Spec> specs = all_specs();
  if (args.list) {
    for (const Spec& s : specs) std::printf("%s\n", s.name.c_str());
    return 0;
  }
  std::vector<Spec> chosen;
  if (args.workloads.empty()) chosen = specs;
  for (const std::string& name : args.workloads) {
    bool found = false;
    for (const Spec& s : specs)
      if (s.name == name) chosen.push_back(s), found = true;
    if (!found) {
      std::fprintf(stderr, "unknown workload '%s' (--list shows them)\n", name.c_str());
      return 2;
    }
  }
  for (const Spec& spec : chosen) {
    if (args.rss_only) {
      // Run alone (one workload per process, see timing.h): the peak only goes up.
      const int64_t baseline = current_rss_kb();
      Workload w = make(spec);
      for (int k = 0; k < kRssSteps; ++k) w.step();
      print_rss(spec.name, baseline, peak_rss_kb());
      continue;
    }
    Workload w = make(spec);
    w.step();
    const double first_loss = w.last_loss();
    const Timing t = measure(w.step, args.budget_s);
    print_time(spec.name, t, w.gflop > 0 ? w.gflop : spec.gflop, threads);
    if (spec.floor_gflop > 0) std::printf("floor\t%s\t%.6g\n", spec.name.c_str(), spec.floor_gflop);
    std::printf("info\t%s\tloss after 1 step %.6g, after all %.6g\n", spec.name.c_str(), first_loss,
                w.last_loss());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace bench
