// What code being profiled calls: the scopes that open the profiler's events,
// and the counters an op adds to. Every op includes this, so it is kept small:
// off, each call here is one atomic load and a branch, inlined; everything a
// running profiler does is out of line, in core/profiler.cpp. The Profiler
// itself, its events and its reports are in core/profiler.h, which only code
// that reads results needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace heed::profiler {

enum class Kind : uint8_t {
  Op,        // an op's forward (or an op that a backward calls)
  Backward,  // one node's backward, run by the engine
  Phase,     // backward, optimizer step: the parts of a training step
  Label,     // the user's own scope (profiler::Scope)
  Region,    // one thread's share of an OpenMP parallel loop
};
const char* kind_name(Kind kind);

// Where the forward made an autograd node: the op's event. Kept on the node
// (autograd/node.h), so that the node's backward event can name it.
struct Site {
  uint64_t session = 0;  // which Profiler run recorded it (0: none)
  uint32_t thread = 0;   // whose list holds the event
  int32_t event = -1;
};

namespace detail {

struct ThreadLog;  // one thread's events (core/profiler.h)

// The running Profiler's number, 0 when none runs: the one thing an op reads
// when profiling is off.
extern std::atomic<uint64_t> g_session;

ThreadLog* thread_log_of(uint64_t session);  // this thread's list, made on first use

// This thread's list while a Profiler runs, else null.
inline ThreadLog* this_thread_log() {
  const uint64_t session = g_session.load(std::memory_order_acquire);
  if (session == 0) [[likely]] return nullptr;
  return thread_log_of(session);
}

// What a running profiler does, each called only with a list in hand.
void add_flops(ThreadLog& log, int64_t flops);
void add_bytes(ThreadLog& log, int64_t bytes);
Site site_of(const ThreadLog& log);

}  // namespace detail

// The RAII scope every event comes from. Ops use OpScope; users Scope.
class OpScope {
 public:
  // `name` must be a string literal (it is kept, not copied).
  explicit OpScope(const char* name, Kind kind = Kind::Op) : log_(detail::this_thread_log()) {
    if (log_) [[unlikely]] open(name, kind);
  }
  ~OpScope() {
    if (log_) [[unlikely]] close();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 protected:
  OpScope() : log_(detail::this_thread_log()) {}
  void open(const char* name, Kind kind);
  void close();
  detail::ThreadLog* log_;
  uint64_t session_ = 0;
  int32_t event_ = -1;
};

// A labelled scope of the user's own (torch.profiler.record_function), or a
// phase: { profiler::Scope s("forward", profiler::Kind::Phase); ... }.
class Scope : public OpScope {
 public:
  explicit Scope(std::string_view name, Kind kind = Kind::Label) {
    if (log_) [[unlikely]] open_named(name, kind);
  }

 private:
  void open_named(std::string_view name, Kind kind);  // keeps a copy of the name
};

// The engine's event for one node's backward: the node's name and where the
// forward made it.
class BackwardScope : public OpScope {
 public:
  BackwardScope(const std::string& node_name, const Site& site) {
    if (log_) [[unlikely]] open_backward(node_name, site);
  }

 private:
  void open_backward(const std::string& node_name, const Site& site);
};

// One thread's share of an OpenMP loop (core/parallel.h opens one on each
// thread of the team), named after the op that opened the loop.
struct RegionContext {
  const char* name = "parallel region";
  const char* phase = nullptr;
};
RegionContext region_context();  // of the innermost event open on this thread
// Not inline, unlike the other scopes: it sits inside parallel_for's template,
// where any code it adds could change how the compiler inlines every loop body
// in heed (it did: the SGD update stopped being inlined). One call per thread
// per parallel region costs nothing next to starting the region.
class RegionScope {
 public:
  explicit RegionScope(const RegionContext& context);
  ~RegionScope();
  RegionScope(const RegionScope&) = delete;
  RegionScope& operator=(const RegionScope&) = delete;

 private:
  detail::ThreadLog* log_;
  uint64_t session_ = 0;
  int32_t event_ = -1;
};

// Adds to the innermost event open on this thread (nothing when off).
inline void add_flops(int64_t flops) {
  if (detail::ThreadLog* log = detail::this_thread_log()) [[unlikely]]
    detail::add_flops(*log, flops);
}
inline void add_bytes(int64_t bytes) {  // Storage calls it for every allocation
  if (detail::ThreadLog* log = detail::this_thread_log()) [[unlikely]]
    detail::add_bytes(*log, bytes);
}
// Where an op being recorded now sits: its own event (autograd's record()).
inline Site current_site() {
  if (detail::ThreadLog* log = detail::this_thread_log()) [[unlikely]]
    return detail::site_of(*log);
  return {};
}

}  // namespace heed::profiler
