#include "heed/core/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "heed/core/error.h"

namespace heed::profiler {

namespace detail {
std::atomic<uint64_t> g_session{0};
}  // namespace detail

namespace {

// The running Profiler, guarded by the mutex: threads that record for the
// first time join it under the same lock that stop() takes.
std::mutex g_registry;
Profiler* g_profiler = nullptr;
uint64_t g_sessions_started = 0;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Each thread remembers its list for the session that made it; a new session
// (or none) means asking the registry again.
thread_local uint64_t tl_session = 0;
thread_local detail::ThreadLog* tl_log = nullptr;

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Op: return "op";
    case Kind::Backward: return "backward";
    case Kind::Phase: return "phase";
    case Kind::Label: return "label";
    case Kind::Region: return "omp";
  }
  return "?";
}

namespace {

// An event opens on top of the thread's stack: the innermost open event is its
// parent, and it inherits the parent's phase (a phase is its own). An OpenMP
// region is drawn but never becomes a parent, and its time is not taken out of
// its op's self time.
int32_t begin(detail::ThreadLog& log, const char* name, Kind kind) {
  Event e;
  e.name = name;
  e.kind = kind;
  e.parent = log.open;
  e.phase = kind == Kind::Phase ? name : (log.open >= 0 ? log.events[static_cast<size_t>(log.open)].phase : nullptr);
  e.start_ns = now_ns() - log.origin_ns;
  const auto index = static_cast<int32_t>(log.events.size());
  log.events.push_back(e);
  if (kind != Kind::Region) log.open = index;
  return index;
}

// Event `index` ends at `t` (since the Profiler started). It must be the
// innermost open one, unless it is a region; its total counts toward its
// parent's children.
void close_at(detail::ThreadLog& log, int32_t index, int64_t t) {
  Event& e = log.events[static_cast<size_t>(index)];
  e.end_ns = t;
  if (e.kind == Kind::Region) return;
  log.open = e.parent;
  if (e.parent >= 0) log.events[static_cast<size_t>(e.parent)].child_ns += e.total_ns();
}

void end(detail::ThreadLog& log, int32_t index) { close_at(log, index, now_ns() - log.origin_ns); }

}  // namespace

namespace detail {

ThreadLog* thread_log_of(uint64_t session) {
  if (tl_session == session) return tl_log;
  std::lock_guard<std::mutex> lock(g_registry);
  if (g_session.load(std::memory_order_relaxed) != session || !g_profiler) return nullptr;  // stopped meanwhile
  tl_log = g_profiler->add_thread(session);
  tl_session = session;
  return tl_log;
}

void add_flops(ThreadLog& log, int64_t flops) {
  if (log.open >= 0) log.events[static_cast<size_t>(log.open)].flops += flops;
}

void add_bytes(ThreadLog& log, int64_t bytes) {
  if (log.open >= 0) log.events[static_cast<size_t>(log.open)].bytes += bytes;
  else log.unattributed_bytes += bytes;
}

Site site_of(const ThreadLog& log) { return {log.session, log.index, log.open}; }

}  // namespace detail

// ---- scopes ----------------------------------------------------------------------

void OpScope::open(const char* name, Kind kind) {
  session_ = log_->session;
  event_ = begin(*log_, name, kind);
}

void OpScope::close() {
  // A Profiler stopped meanwhile has closed this event itself (and may be gone).
  if (detail::g_session.load(std::memory_order_acquire) == session_) end(*log_, event_);
}

void Scope::open_named(std::string_view name, Kind kind) { open(log_->intern(name), kind); }

void BackwardScope::open_backward(const std::string& node_name, const Site& site) {
  open(log_->intern(node_name), Kind::Backward);
  log_->events[static_cast<size_t>(event_)].site = site;
}

RegionContext region_context() {
  detail::ThreadLog* log = detail::this_thread_log();
  if (!log || log->open < 0) return {};
  const Event& e = log->events[static_cast<size_t>(log->open)];
  return {e.name, e.phase};
}

RegionScope::RegionScope(const RegionContext& context) : log_(detail::this_thread_log()) {
  if (!log_) return;
  session_ = log_->session;
  event_ = begin(*log_, context.name, Kind::Region);
  log_->events[static_cast<size_t>(event_)].phase = context.phase;
}

RegionScope::~RegionScope() {
  if (log_ && detail::g_session.load(std::memory_order_acquire) == session_) end(*log_, event_);
}

// ---- the Profiler --------------------------------------------------------------------

Profiler::Profiler() {
  std::lock_guard<std::mutex> lock(g_registry);
  if (g_profiler)
    throw Error("profiler: another Profiler is already running; one runs at a time (stop() the first)");
  session_ = ++g_sessions_started;
  start_ns_ = now_ns();
  g_profiler = this;
  detail::g_session.store(session_, std::memory_order_release);
}

Profiler::~Profiler() {
  if (running_) stop();
}

detail::ThreadLog* Profiler::add_thread(uint64_t session) {
  auto log = std::make_unique<detail::ThreadLog>();
  log->session = session;
  log->index = static_cast<uint32_t>(threads_.size());
  log->origin_ns = start_ns_;
  log->events.reserve(4096);  // a small step's worth, so the first steps do not regrow it
  threads_.push_back(std::move(log));
  return threads_.back().get();
}

void Profiler::stop() {
  if (!running_) return;
  std::lock_guard<std::mutex> lock(g_registry);
  detail::g_session.store(0, std::memory_order_release);
  g_profiler = nullptr;
  running_ = false;
  stop_ns_ = now_ns() - start_ns_;
  // Scopes still open (stop() called inside a labelled scope, say) end now.
  for (auto& log : threads_) {
    for (size_t i = 0; i < log->events.size(); ++i)
      if (log->events[i].end_ns < 0 && log->events[i].kind == Kind::Region)
        close_at(*log, static_cast<int32_t>(i), stop_ns_);
    while (log->open >= 0) close_at(*log, log->open, stop_ns_);
  }
}

void Profiler::require_stopped(const char* what) const {
  if (running_)
    throw Error(msg("profiler: ", what, " needs the Profiler stopped (call stop() first): the threads "
                    "are still writing its events"));
}

const std::vector<std::unique_ptr<detail::ThreadLog>>& Profiler::threads() const {
  require_stopped("threads()");
  return threads_;
}

std::string Profiler::describe_site(const Site& site) const {
  if (site.session != session_ || site.thread >= threads_.size() || site.event < 0)
    return site.session == 0 ? "(made with the profiler off)" : "(made before this profiler started)";
  const detail::ThreadLog& log = *threads_[site.thread];
  std::vector<const char*> path;
  for (int32_t i = log.events[static_cast<size_t>(site.event)].parent; i >= 0;
       i = log.events[static_cast<size_t>(i)].parent)
    path.push_back(log.events[static_cast<size_t>(i)].name);
  if (path.empty()) return "(top level)";
  std::string out;
  for (size_t i = path.size(); i-- > 0;) out += std::string(path[i]) + (i > 0 ? " > " : "");
  return out;
}

int64_t Profiler::self_ns_sum() const {
  require_stopped("self_ns_sum()");
  int64_t sum = 0;
  for (const auto& log : threads_)
    for (const Event& e : log->events)
      if (e.kind != Kind::Region) sum += e.self_ns();
  return sum;
}

namespace {

// describe_site() for every backward event of a run: each site's string is made
// once (a step's thousands of backward events come from a few hundred sites).
class SiteNames {
 public:
  explicit SiteNames(const Profiler& profiler) : profiler_(profiler) {}
  const std::string& operator()(const Site& site) {
    auto [it, added] = names_.try_emplace({site.session, site.thread, site.event});
    if (added) it->second = profiler_.describe_site(site);
    return it->second;
  }

 private:
  const Profiler& profiler_;
  std::map<std::tuple<uint64_t, uint32_t, int32_t>, std::string> names_;
};

}  // namespace

std::vector<Row> Profiler::rows(bool group_by_site) const {
  require_stopped("rows()");
  std::map<std::tuple<Kind, std::string, std::string>, Row> by_key;
  SiteNames site_names(*this);
  for (const auto& log : threads_) {
    for (const Event& e : log->events) {
      if (e.kind == Kind::Region) continue;
      std::string site = group_by_site && e.kind == Kind::Backward ? site_names(e.site) : std::string();
      Row& row = by_key[{e.kind, e.name, site}];
      if (row.calls == 0) {
        row.name = e.name;
        row.kind = e.kind;
        row.site = std::move(site);
      }
      ++row.calls;
      row.self_ns += e.self_ns();
      row.total_ns += e.total_ns();
      row.flops += e.flops;
      row.bytes += e.bytes;
    }
  }
  std::vector<Row> rows;
  rows.reserve(by_key.size());
  for (auto& entry : by_key) rows.push_back(std::move(entry.second));
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.self_ns > b.self_ns; });
  return rows;
}

std::string Profiler::table(const TableOptions& options) const {
  std::vector<Row> rows = this->rows(options.group_by_site);
  if (options.kind) std::erase_if(rows, [&](const Row& r) { return r.kind != *options.kind; });
  const int64_t self_sum = self_ns_sum();
  std::ostringstream out;
  out << std::fixed;
  out << std::left << std::setw(28) << "name" << std::setw(9) << "kind" << std::right << std::setw(8) << "calls"
      << std::setw(11) << "self ms" << std::setw(8) << "self %" << std::setw(11) << "total ms" << std::setw(10)
      << "avg us" << std::setw(9) << "GFLOP" << std::setw(9) << "GFLOP/s" << std::setw(10) << "alloc MB"
      << (options.group_by_site ? "  created at" : "") << "\n";
  const size_t shown = options.row_limit == 0 ? rows.size() : std::min(rows.size(), options.row_limit);
  for (size_t i = 0; i < shown; ++i) {
    const Row& r = rows[i];
    std::string name = r.name.size() > 27 ? r.name.substr(0, 24) + "..." : r.name;
    out << std::left << std::setw(28) << name << std::setw(9) << kind_name(r.kind) << std::right << std::setw(8)
        << r.calls << std::setprecision(3) << std::setw(11) << r.self_ns * 1e-6 << std::setprecision(1)
        << std::setw(7) << (self_sum > 0 ? 100.0 * static_cast<double>(r.self_ns) / static_cast<double>(self_sum) : 0.0)
        << "%" << std::setprecision(3) << std::setw(11) << r.total_ns * 1e-6 << std::setprecision(1) << std::setw(10)
        << r.total_ns * 1e-3 / static_cast<double>(r.calls);
    if (r.flops > 0) {
      // Per unit of total time: an op's FLOPs include none of its children's.
      out << std::setprecision(3) << std::setw(9) << r.flops * 1e-9 << std::setprecision(1) << std::setw(9)
          << (r.total_ns > 0 ? static_cast<double>(r.flops) / static_cast<double>(r.total_ns) : 0.0);
    } else {
      out << std::setw(9) << "-" << std::setw(9) << "-";
    }
    out << std::setprecision(2) << std::setw(10) << r.bytes / 1048576.0;
    if (options.group_by_site && !r.site.empty()) out << "  " << r.site;
    out << "\n";
  }
  if (shown < rows.size()) out << "... " << rows.size() - shown << " more rows\n";
  size_t regions = 0;
  for (const auto& log : threads_)
    for (const Event& e : log->events) regions += e.kind == Kind::Region && e.parent >= 0 ? 1 : 0;
  out << std::setprecision(3) << "self times add up to " << self_sum * 1e-6 << " ms over " << threads_.size()
      << (threads_.size() == 1 ? " thread" : " threads") << "; the profiler ran " << stop_ns_ * 1e-6
      << " ms; OpenMP regions (in the trace, not the table): " << regions << "\n";
  return out.str();
}

// ---- the Chrome trace --------------------------------------------------------------

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void write_event(std::ostream& out, const char* name, const char* cat, int64_t start, int64_t end, int64_t tid,
                 const std::string& args) {
  out << ",\n{\"name\":" << json_string(name) << ",\"cat\":\"" << cat << "\",\"ph\":\"X\",\"ts\":"
      << static_cast<double>(start) * 1e-3 << ",\"dur\":" << static_cast<double>(end - start) * 1e-3
      << ",\"pid\":1,\"tid\":" << tid << (args.empty() ? "" : ",\"args\":{" + args + "}") << "}";
}

void write_thread_name(std::ostream& out, int64_t tid, const std::string& name, int64_t sort_index) {
  out << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":" << tid
      << ",\"args\":{\"name\":" << json_string(name) << "}}";
  out << ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":" << tid
      << ",\"args\":{\"sort_index\":" << sort_index << "}}";
}

// Ops outside any phase, drawn as phases of their own. A run of them is the
// ops one after another with no phase in between; each run ends where a phase
// begins. A run followed by the backward (or by zero_grad, which comes before
// it) is the forward; any other (gradient clipping between the backward and
// the optimizer's step, say) is just "other ops".
struct OpRun {
  int64_t start_ns = 0, end_ns = 0;
  size_t first = 0, last = 0;  // the outermost ops it holds, as event indices
  const char* phase = "forward";
};

bool outermost_op(const detail::ThreadLog& log, const Event& e) {
  return e.kind == Kind::Op && !e.phase &&
         (e.parent < 0 || log.events[static_cast<size_t>(e.parent)].kind == Kind::Label);
}

std::vector<OpRun> op_runs(const detail::ThreadLog& log) {
  std::vector<OpRun> runs;
  bool open = false;
  for (size_t i = 0; i < log.events.size(); ++i) {
    const Event& e = log.events[i];
    if (e.kind == Kind::Phase) {
      if (open) {
        const std::string_view next = e.name;
        runs.back().phase = next == "backward" || next == "optimizer.zero_grad" ? "forward" : "other ops";
      }
      open = false;
    } else if (outermost_op(log, e)) {
      if (!open) runs.push_back({e.start_ns, e.end_ns, i, i});
      open = true;
      runs.back().end_ns = std::max(runs.back().end_ns, e.end_ns);
      runs.back().last = i;
    }
  }
  return runs;
}

// The phase of event i, an op outside any phase: its outermost op's run's.
const char* run_phase(const detail::ThreadLog& log, const std::vector<OpRun>& runs, size_t i) {
  while (!outermost_op(log, log.events[i]) && log.events[i].parent >= 0) i = static_cast<size_t>(log.events[i].parent);
  // The last run that starts at or before i (runs are in order).
  auto after = std::upper_bound(runs.begin(), runs.end(), i, [](size_t k, const OpRun& run) { return k < run.first; });
  if (after == runs.begin() || i > std::prev(after)->last) return "other ops";
  return std::prev(after)->phase;
}

}  // namespace

void Profiler::write_chrome_trace(const std::string& path) const {
  require_stopped("write_chrome_trace()");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw IOError(msg("profiler: cannot open ", tmp, " to write the trace"));
    out << std::fixed << std::setprecision(3);
    SiteNames site_names(*this);
    out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
        << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"heed\"}}";
    for (const auto& log : threads_) {
      // Each thread's events on its track; its phases on a track of their own
      // above it, so that a phase and a label that overlap need not nest.
      const int64_t tid = log->index, phase_tid = 1000 + log->index;
      write_thread_name(out, tid, msg("thread ", log->index), 2 * tid + 1);
      write_thread_name(out, phase_tid, msg("thread ", log->index, ": phases"), 2 * tid);
      const std::vector<OpRun> runs = op_runs(*log);
      for (const OpRun& run : runs)
        write_event(out, run.phase, "phase", run.start_ns, run.end_ns, phase_tid, "");
      for (size_t i = 0; i < log->events.size(); ++i) {
        const Event& e = log->events[i];
        std::string args;
        if (e.flops > 0) args += msg("\"flops\":", e.flops);
        if (e.bytes > 0) args += msg(args.empty() ? "" : ",", "\"bytes\":", e.bytes);
        if (e.kind == Kind::Backward)
          args += msg(args.empty() ? "" : ",", "\"created at\":", json_string(site_names(e.site)));
        if (e.kind == Kind::Phase) {
          write_event(out, e.name, "phase", e.start_ns, e.end_ns, phase_tid, args);
          continue;
        }
        // Colour by phase: the op's own, or the one its run of ops was given.
        const char* cat = e.kind == Kind::Region ? "openmp" : e.kind == Kind::Label ? "label" : e.phase;
        if (!cat) cat = run_phase(*log, runs, i);
        write_event(out, e.name, cat, e.start_ns, e.end_ns, tid, args);
      }
    }
    out << "\n]}\n";
    out.flush();
    if (!out) throw IOError(msg("profiler: writing the trace to ", tmp, " failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw IOError(msg("profiler: cannot rename ", tmp, " to ", path));
}

}  // namespace heed::profiler
