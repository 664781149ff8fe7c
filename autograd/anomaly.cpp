#include "heed/autograd/anomaly.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "heed/core/copy.h"
#include "heed/core/iterate.h"

#if __has_include(<execinfo.h>) && __has_include(<cxxabi.h>)
#include <cxxabi.h>
#include <execinfo.h>
#define HEED_HAVE_BACKTRACE 1
#else
#define HEED_HAVE_BACKTRACE 0
#endif

namespace heed {

namespace {

std::atomic<bool> g_anomaly{false}, g_anomaly_forward{false};
// Per thread: two threads running forwards would otherwise number each other's ops.
thread_local uint64_t t_forward_ops = 0;

constexpr int kMaxFrames = 32;

// SourceSite gives the path the compiler saw ("/home/me/heed/ops/elementwise.cpp").
// This file's own path tells where the source root is, so the rest of heed's
// paths can be shown relative to it: "ops/elementwise.cpp".
std::string_view relative_to_source_root(std::string_view file) {
  constexpr std::string_view self = "autograd/anomaly.cpp";
  std::string_view here = SourceSite::current().file_name();
  if (here.size() < self.size() || here.substr(here.size() - self.size()) != self) return file;
  std::string_view root = here.substr(0, here.size() - self.size());
  if (file.substr(0, root.size()) == root) file.remove_prefix(root.size());
  return file;
}

// "./prog(_ZN4heed3logERKNS_6TensorE+0x5a) [0x55d0c1]" -> "./prog: heed::log(heed::Tensor const&)".
// A frame with no symbol name ("./prog(+0x5a3f1) [0x55d0c1]") is kept as it is:
// its offset is what addr2line needs. *named is set to whether it had a name.
std::string readable_frame(const char* symbol, bool* named) {
  std::string s(symbol);
  *named = false;
  size_t open = s.find('(');
  size_t plus = s.find('+', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || plus == std::string::npos || plus == open + 1) return s;
  *named = true;
  std::string name = s.substr(open + 1, plus - open - 1);
#if HEED_HAVE_BACKTRACE
  int status = 0;
  char* demangled = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status == 0 && demangled != nullptr) name = demangled;  // "main" is not mangled: kept as is
  std::free(demangled);
#endif
  return s.substr(0, open) + ": " + name;
}

// What is wrong with a gradient, in words: "NaN" (or "Inf"), then how much of it.
const char* kind(const NonFiniteCount& c) { return c.nan > 0 ? "NaN" : "Inf"; }
std::string tally(const NonFiniteCount& c, int64_t numel) {
  return msg(c.nan, " of ", numel, " elements NaN, ", c.inf, " Inf");
}

// "'log' (created at ..., op #2 of the forward)", the op as an anomaly error names it.
std::string op_with_site(const Node& node) {
  const CreationSite* site = node.creation_site.get();
  if (!site)
    return msg("'", node.name(), "' (made before anomaly mode was turned on, so where is not known)");
  return msg("'", node.name(), "' (created at ", site->describe(), ")");
}

std::string stack_of(const Node& node) {
  if (!node.creation_site) return "";
  std::string frames = node.creation_site->stack();
  if (frames.empty()) return "";
  return msg("\nforward call stack where '", node.name(), "' was created (most recent call first):\n",
             frames);
}

}  // namespace

bool is_anomaly_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
bool is_anomaly_forward_check_enabled() { return g_anomaly_forward.load(std::memory_order_relaxed); }

void set_detect_anomaly(bool on, bool check_forward) {
  g_anomaly_forward.store(on && check_forward);
  // Turning it on starts the op count afresh; re-setting the same value changes nothing.
  if (on && !g_anomaly.exchange(true)) t_forward_ops = 0;
  if (!on) g_anomaly.store(false);
}

void reset_forward_op_count() { t_forward_ops = 0; }

// noinline: the frames skipped below are this function and record(), its caller.
[[gnu::noinline]] std::shared_ptr<const CreationSite> capture_creation_site(SourceSite where) {
  auto site = std::make_shared<CreationSite>();
  site->ordinal = ++t_forward_ops;
  site->where = where;
#if HEED_HAVE_BACKTRACE
  void* frames[kMaxFrames + 2];
  int n = backtrace(frames, kMaxFrames + 2);
  constexpr int kSkip = 2;
  if (n > kSkip) site->frames.assign(frames + kSkip, frames + n);
#endif
  return site;
}

std::string CreationSite::describe() const {
  return msg(relative_to_source_root(where.file_name()), ":", where.line(), " in ",
             where.function_name(), ", op #", ordinal, " of the forward");
}

std::string CreationSite::stack() const {
  std::string out;
#if HEED_HAVE_BACKTRACE
  if (frames.empty()) return out;
  char** symbols = backtrace_symbols(frames.data(), static_cast<int>(frames.size()));
  if (!symbols) return out;
  bool op_named = false;  // frame #0 is the heed op that called record()
  for (size_t i = 0; i < frames.size(); ++i) {
    bool named = false;
    out += msg("  #", i, " ", readable_frame(symbols[i], &named), "\n");
    if (i == 0) op_named = named;
  }
  std::free(symbols);  // one malloc'd block holds the array and the strings
  if (!op_named)
    out += "  (no names: link the program with -rdynamic to see them, or run "
           "`addr2line -Cfpe FILE 0x...` with a frame's +0x... offset)\n";
#endif
  return out;
}

NonFiniteCount count_non_finite(const Tensor& t) {
  NonFiniteCount count;
  if (!is_floating(t.dtype()) || t.numel() == 0) return count;
  const Tensor c = t.is_contiguous() ? t : copy_of(t);  // one flat run to scan
  dispatch_floating(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data_ptr<T>();
    const int64_t n = c.numel();
    int64_t nan = 0, inf = 0;
    // A reduction: each thread counts into its own copies, which OpenMP adds up.
#pragma omp parallel for reduction(+ : nan, inf) if (n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      nan += std::isnan(p[i]) ? 1 : 0;
      inf += std::isinf(p[i]) ? 1 : 0;
    }
    count.nan = nan;
    count.inf = inf;
  });
  return count;
}

void check_output_finite(const Node& node, const Tensor& out, std::span<const Tensor> inputs) {
  const NonFiniteCount made = count_non_finite(out);
  if (!made.any()) return;  // the common case: one scan of the output
  NonFiniteCount brought;
  for (const Tensor& x : inputs) {
    if (!x.defined()) continue;
    NonFiniteCount c = count_non_finite(x);
    brought.nan += c.nan;
    brought.inf += c.inf;
  }
  const bool new_nan = made.nan > 0 && brought.nan == 0, new_inf = made.inf > 0 && brought.inf == 0;
  if (new_nan || new_inf)
    throw AutogradError(msg("anomaly: forward of ", op_with_site(node), " produced ", new_nan ? "NaN" : "Inf",
                            " (shape ", out.shape(), "): ", tally(made, out.numel()), "; none of its inputs held ",
                            new_nan ? "a NaN" : "an Inf", stack_of(node)));
  // Passed on, not made. A NaN made by a recorded op was reported there; one
  // from outside the graph has no such op, so it is reported where it enters.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || grad_fn_of(inputs[i].impl())) continue;
    NonFiniteCount c = count_non_finite(inputs[i]);
    if (c.nan == 0) continue;  // an Inf from outside is often meant: an additive mask's -inf
    throw AutogradError(msg("anomaly: input ", i, " of ", op_with_site(node), " (shape ", inputs[i].shape(),
                            ") holds NaN: ", tally(c, inputs[i].numel()),
                            "; no recorded op made it (it is data, a leaf, or was computed under no-grad)",
                            stack_of(node)));
  }
}

void check_root_gradient_finite(const Tensor& grad) {
  NonFiniteCount c = count_non_finite(grad);
  if (!c.any()) return;
  throw AutogradError(msg("anomaly: the gradient backward() starts from (shape ", grad.shape(),
                          ") has ", kind(c), ": ", tally(c, grad.numel())));
}

void check_gradients_finite(const Node& node, const TensorList& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    // A gradient for an input that needs none goes nowhere: whatever it holds harms nothing.
    if (!grads[i].defined() || !node.next_edges()[i].node) continue;
    NonFiniteCount c = count_non_finite(grads[i]);
    if (!c.any()) continue;
    throw AutogradError(msg("anomaly: backward of ", op_with_site(node), " produced ", kind(c),
                            " in the gradient for input ", i, " (shape ", grads[i].shape(), "): ",
                            tally(c, grads[i].numel()), stack_of(node)));
  }
}

void check_hook_result_finite(const Node& node, const Tensor& grad) {
  NonFiniteCount c = count_non_finite(grad);
  if (!c.any()) return;
  std::string tensor = node.leaf ? std::string("a leaf") : msg("the output of ", op_with_site(node));
  throw AutogradError(msg("anomaly: a hook on ", tensor, " (shape ", grad.shape(), ") returned a gradient with ",
                          kind(c), ": ", tally(c, grad.numel()), stack_of(node)));
}

TensorList apply_with_creation_context(Node& node, const Tensor& grad) {
  try {
    return node.apply(grad);
  } catch (const AutogradError& e) {
    throw AutogradError(msg(e.what(), "\n(in the backward of ", op_with_site(node), ")", stack_of(node)));
  }
}

}  // namespace heed
