// The profiler: where the time of a training step goes, op by op.
//
//   profiler::Profiler prof;                   // on from here...
//   for (int s = 0; s < 5; ++s) train_step();
//   prof.stop();                               // ...to here
//   std::cout << prof.table();                 // one row per op, most self time first
//   prof.write_chrome_trace("trace.json");     // chrome://tracing or ui.perfetto.dev
//
// While a Profiler runs, heed records an Event for each of these, on every thread:
//   - an op's forward: each public op opens an OpScope on its first line;
//   - a node's backward: the engine times each node's apply(), named by the op
//     that recorded the node and remembering where the forward made it (the
//     events that were open then: "block > attn > linear");
//   - phases: the engine's backward and the optimizers' step and zero_grad. The
//     trace draws the ops outside any phase that come before a backward as the
//     forward phase;
//   - labels of the user's own, like torch.profiler.record_function:
//       { profiler::Scope s("attention"); ... }
//   - OpenMP regions (core/parallel.h): on each thread of the team, the part of
//     the loop that thread ran.
// An op that adds FLOPs or allocates memory says so (add_flops, and Storage's
// allocations count themselves): both go to the innermost event open on the thread.
//
// Total and self time. An event's total is end - start; its self time is the
// total less the totals of the events opened inside it on the same thread. So
// a `cross_entropy` that calls `log_softmax` keeps only its own work as self
// time, and on one thread the self times of all events add up to exactly
// the time the outermost ones cover. OpenMP regions are drawn, not counted:
// their time is already their op's.
//
// Cost. Off, an op pays one atomic load and a branch (bench/RESULTS.md has the
// rows). On, every event costs two clock reads and an append to the thread's
// own list, and a backward event a lookup of its name; the events are kept in
// memory until the Profiler dies, 80 bytes each, so profile a few steps, not a
// whole training run.
//
// The scopes and counters that code being profiled calls are in
// core/profile_scope.h; this header is the Profiler, its events and its reports.
//
// One Profiler runs at a time (a second one throws). stop() it, or let it die,
// while the threads it watches are idle (between steps), since it then reads
// what they wrote.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "heed/core/profile_scope.h"

namespace heed::profiler {

struct Event {
  const char* name = "";     // a string literal (ops) or one the profiler keeps
  const char* phase = nullptr;  // the innermost enclosing phase, if any
  int64_t start_ns = 0;      // since the Profiler started
  int64_t end_ns = -1;       // -1 while open
  int64_t child_ns = 0;      // the totals of the events opened inside this one
  int64_t flops = 0;
  int64_t bytes = 0;         // allocated while this event was the innermost
  int32_t parent = -1;       // the enclosing event in the same list (-1: none)
  Kind kind = Kind::Op;
  Site site;                 // Backward: the forward op that made the node
  int64_t total_ns() const { return end_ns - start_ns; }
  int64_t self_ns() const { return total_ns() - child_ns; }
};

namespace detail {

// The events of one thread, in the order they opened. Only that thread writes
// it while the profiler runs, so recording takes no lock.
struct ThreadLog {
  uint64_t session = 0;
  uint32_t index = 0;  // 0 for the first thread that recorded, 1 for the next...
  int64_t origin_ns = 0;  // the steady clock when the Profiler started
  std::vector<Event> events;
  int32_t open = -1;   // the innermost open event on the stack (Regions never are)
  int64_t unattributed_bytes = 0;  // allocated with no event open

  // The names that are not literals (labels, nodes' names), each kept once; a
  // name seen before is found without making a std::string of it.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> names;
  const char* intern(std::string_view name) {
    auto it = names.find(name);
    if (it == names.end()) it = names.emplace(name).first;
    return it->c_str();
  }
};

}  // namespace detail

// One row of the table: the events of one name and kind (and, grouped by
// site, one creation site), added up.
struct Row {
  std::string name;
  Kind kind = Kind::Op;
  std::string site;  // Backward rows grouped by site: "block > attn > linear"
  int64_t calls = 0, self_ns = 0, total_ns = 0, flops = 0, bytes = 0;
};

struct TableOptions {
  bool group_by_site = false;  // split backward rows by where the forward made them
  std::optional<Kind> kind = std::nullopt;  // only the rows of this kind
  size_t row_limit = 30;       // 0: all
};

class Profiler {
 public:
  Profiler();   // starts recording; throws if another Profiler is running
  ~Profiler();  // stops, if stop() was not called
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  void stop();
  bool running() const { return running_; }

  // Read only after stop() (they throw before it): the events are still being written.
  std::vector<Row> rows(bool group_by_site = false) const;  // most self time first
  std::string table(const TableOptions& options = {}) const;
  // Chrome's trace format (JSON): one track per thread, and above each a track
  // of its phases. Written to "<path>.tmp" and renamed, so a failed write never
  // leaves half a file.
  void write_chrome_trace(const std::string& path) const;

  // The self times of every event but OpenMP regions, added up (what the
  // table's self column sums to), and the time from start to stop.
  int64_t self_ns_sum() const;
  int64_t wall_ns() const { return stop_ns_; }
  const std::vector<std::unique_ptr<detail::ThreadLog>>& threads() const;

  // "block > attn > linear": the events open around `site`'s, outermost first.
  std::string describe_site(const Site& site) const;

  // A list for a thread that has none yet (called under the lock that
  // guards the running Profiler, so threads join one at a time).
  detail::ThreadLog* add_thread(uint64_t session);

 private:
  void require_stopped(const char* what) const;
  uint64_t session_;
  bool running_ = true;
  int64_t start_ns_;  // steady clock, when started
  int64_t stop_ns_ = 0;  // since start
  std::vector<std::unique_ptr<detail::ThreadLog>> threads_;
};

}  // namespace heed::profiler
