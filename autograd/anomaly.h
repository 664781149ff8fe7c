// Anomaly mode: find the op whose backward made a NaN or an Inf.
//
// A NaN in a gradient spreads: one bad op (log(0) * 0, sqrt at 0, 0 / 0) poisons
// every gradient behind it, and by the time the loss or the weights show NaN, the
// op that started it is long gone. With anomaly mode on:
//   - every op recorded in the forward remembers where it was made: its place in
//     the forward (op #n, counted since the last backward), the line in heed that
//     recorded it, and the call stack (glibc's backtrace(), no debugger needed);
//   - backward checks every gradient it produces (and the one it starts from, and
//     what hooks return) and throws an AutogradError at the first NaN or Inf:
//
//       anomaly: backward of 'log' (created at ops/elementwise.cpp:144 in
//       heed::Tensor heed::log(const Tensor&), op #1 of the forward) produced NaN
//       in the gradient for input 0 (shape [3]): 1 of 3 elements NaN, 0 Inf
//       forward call stack where 'log' was created (most recent call first):
//         #0 ./train: heed::log(heed::Tensor const&)
//         #1 ./train: main
//         ...
//
//   { DetectAnomalyGuard anomaly; Tensor loss = model(x); loss.backward(); }
//
// With check_forward as well, the forward is checked too: each op the graph
// records scans its output, and the first op whose output holds a kind of
// non-finite value (NaN, Inf) that none of its inputs held throws, named with
// its creation site:
//
//       anomaly: forward of 'log' (created at ops/elementwise.cpp:144 in heed::Tensor
//       heed::log(const Tensor&), op #3 of the forward) produced Inf (shape [4]):
//       0 of 4 elements NaN, 1 Inf; none of its inputs held an Inf
//
// Values an op only passes on are not its doing: an additive mask's -inf that a
// sum carries is fine (softmax turns it into 0), but a softmax over a row that is
// all -inf makes NaN, and that is reported. A NaN that enters the graph from
// outside (a data tensor, a leaf, a result computed under no-grad) is reported
// at the first recorded op it reaches. Ops that record nothing (under no-grad,
// or with no input that requires grad) are not checked.
//
//   { DetectAnomalyGuard anomaly(true, /*check_forward=*/true); Tensor loss = model(x); ... }
//
// Like PyTorch's torch.autograd.detect_anomaly it is for debugging: it copies
// every gradient once more to scan it and records a call stack per op. Off (the
// default), it costs one branch per op and one per backward. With it off, NaN
// gradients pass silently, as in PyTorch.
//
// The frames of the call stack are named when the program exports its symbols
// (link with -rdynamic, or CMake's ENABLE_EXPORTS); otherwise they show as
// file(+offset), which `addr2line -Cfe file offset` turns into a function and line.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/autograd/source_site.h"

namespace heed {

// Process-wide, like PyTorch's: turn it on once for a whole training run.
bool is_anomaly_enabled();
bool is_anomaly_forward_check_enabled();  // on only while anomaly mode is
void set_detect_anomaly(bool on, bool check_forward = false);

// RAII: anomaly mode is `on` for this object's lifetime, then back as it was.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true, bool check_forward = false)
      : was_(is_anomaly_enabled()), was_forward_(is_anomaly_forward_check_enabled()) {
    set_detect_anomaly(on, check_forward);
  }
  ~DetectAnomalyGuard() { set_detect_anomaly(was_, was_forward_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool was_, was_forward_;
};

// Where an op was made in the forward pass. record() stores one in the op's Node
// (Node::creation_site) while anomaly mode is on, and only then.
struct CreationSite {
  uint64_t ordinal = 0;        // the n-th op recorded since the last backward (from 1)
  SourceSite where;  // the record() call in heed (file, line, function)
  std::vector<void*> frames;   // return addresses of the call stack, most recent first

  // "ops/elementwise.cpp:144 in heed::Tensor heed::log(const Tensor&), op #1 of the forward"
  std::string describe() const;
  // The call stack, one "  #i frame" line each (empty where backtrace() is missing).
  std::string stack() const;
};

// ---- used by record() and the engine ------------------------------------------

// Makes the CreationSite of the op being recorded now (the next ordinal, the stack).
std::shared_ptr<const CreationSite> capture_creation_site(SourceSite where);
// The forward's op count restarts at 1: the engine calls it after each backward.
void reset_forward_op_count();

struct NonFiniteCount {
  int64_t nan = 0, inf = 0;
  bool any() const { return nan > 0 || inf > 0; }
};
NonFiniteCount count_non_finite(const Tensor& t);  // 0, 0 for integer tensors

// The forward check (check_forward): throws an AutogradError naming `node`'s op
// and creation site when `out` holds a kind of non-finite value none of
// `inputs` held, or when an input from outside the graph holds a NaN.
void check_output_finite(const Node& node, const Tensor& out, std::span<const Tensor> inputs);

// Each throws an AutogradError naming the op, its creation site and the input
// when a gradient holds a NaN or an Inf.
void check_root_gradient_finite(const Tensor& grad);
void check_gradients_finite(const Node& node, const TensorList& grads);
void check_hook_result_finite(const Node& node, const Tensor& grad);
// node.apply(grad); an AutogradError it throws gets the node's creation site added.
TensorList apply_with_creation_context(Node& node, const Tensor& grad);

}  // namespace heed
