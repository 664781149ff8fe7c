// The one timing method both benchmark programs use (heed_bench.cpp,
// torch_bench.cpp, blas_bench.cpp), so a ratio between them compares two
// libraries and not two ways of measuring.
//
//   1. warm-up: run the step until at least kWarmupRuns runs and kWarmupSeconds
//      have passed. The first runs pay for things a training loop pays once:
//      allocator pools filling, optimizer state being created, pages being
//      touched, the BLAS thread pool starting.
//   2. samples: time `steps_per_sample` back-to-back steps per sample, with as
//      many steps as make a sample last >= kMinSampleSeconds (a 5 us step timed
//      alone would be mostly clock overhead and jitter).
//   3. repeat: as many samples as fit in the time budget, at least kMinSamples
//      and at most kMaxSamples, and report the MEDIAN per-step time (the median
//      ignores the odd sample hit by another process; the minimum is reported
//      too, as the "best the machine gave").
//
// Memory: peak_rss_kb() is the process's high-water resident set (VmHWM in
// /proc/self/status). It only ever goes up, so a workload's peak is measured in
// a process of its own (the programs' --rss-only mode), not after others ran.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

inline constexpr int kWarmupRuns = 3;
inline constexpr double kWarmupSeconds = 0.2;
inline constexpr double kMinSampleSeconds = 1e-3;
inline constexpr int kMinSamples = 5;
inline constexpr int kMaxSamples = 201;

struct Timing {
  double median_s = 0;   // per step
  double min_s = 0;      // per step, the fastest sample
  int samples = 0;
  int64_t steps_per_sample = 0;
};

inline double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Runs step() as described at the top of this file and returns per-step times.
// budget_s is the time to spend on samples (the warm-up comes on top).
template <class Step>
Timing measure(Step&& step, double budget_s) {
  // 1. warm-up, keeping the fastest warm-up run as the estimate of one step.
  double estimate = 1e30;
  const double warmup_start = now_s();
  for (int run = 0; run < kWarmupRuns || now_s() - warmup_start < kWarmupSeconds; ++run) {
    const double t0 = now_s();
    step();
    estimate = std::min(estimate, now_s() - t0);
  }
  estimate = std::max(estimate, 1e-9);

  // 2. how many steps per sample, and 3. how many samples fit the budget.
  Timing t;
  t.steps_per_sample = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kMinSampleSeconds / estimate)));
  const double sample_estimate = estimate * static_cast<double>(t.steps_per_sample);
  t.samples = std::clamp(static_cast<int>(budget_s / sample_estimate), kMinSamples, kMaxSamples);

  std::vector<double> per_step;
  per_step.reserve(t.samples);
  for (int s = 0; s < t.samples; ++s) {
    const double t0 = now_s();
    for (int64_t k = 0; k < t.steps_per_sample; ++k) step();
    per_step.push_back((now_s() - t0) / static_cast<double>(t.steps_per_sample));
  }
  std::sort(per_step.begin(), per_step.end());
  const size_t n = per_step.size();
  t.median_s = n % 2 ? per_step[n / 2] : 0.5 * (per_step[n / 2 - 1] + per_step[n / 2]);
  t.min_s = per_step.front();
  return t;
}

// A field of /proc/self/status in kB ("VmHWM", "VmRSS"); -1 if unreadable (not Linux).
inline int64_t proc_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::strtoll(line.c_str() + len + 1, nullptr, 10);
  return -1;
}
inline int64_t peak_rss_kb() { return proc_status_kb("VmHWM"); }
inline int64_t current_rss_kb() { return proc_status_kb("VmRSS"); }

// How many steps the --rss-only mode runs: enough that every buffer a training
// loop keeps (optimizer state, allocator caches) exists, and the peak of one
// step has been reached more than once.
inline constexpr int kRssSteps = 5;

// ---- the command line and the output lines every program shares --------------
//
//   <program> [--workload NAME]... [--rss-only] [--threads N] [--budget SECONDS] [--list]
//
// Output, one tab-separated line per result, for bench/run.sh to read:
//   time <workload> <median_s> <min_s> <samples> <steps_per_sample> <gflop_per_step> <threads>
//   rss  <workload> <baseline_kb> <peak_kb>
//   info <workload> <free text>       (anything a reader may want; run.sh ignores it)
// baseline_kb is the resident set before the workload was built: the program
// and its libraries. peak_kb - baseline_kb is what the workload itself needed.

struct Args {
  std::vector<std::string> workloads;  // empty: all
  bool rss_only = false;
  bool list = false;
  int threads = 0;  // 0: the program's default
  double budget_s = 1.0;
  bool profile = false;  // heed_bench only: run each step under heed's profiler (its cost when on)
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  if (const char* env = std::getenv("BENCH_BUDGET")) a.budget_s = std::atof(env);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value\n", argv[0], arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--workload") a.workloads.push_back(value());
    else if (arg == "--rss-only") a.rss_only = true;
    else if (arg == "--list") a.list = true;
    else if (arg == "--threads") a.threads = std::atoi(value().c_str());
    else if (arg == "--budget") a.budget_s = std::atof(value().c_str());
    else if (arg == "--profile") a.profile = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--workload NAME]... [--rss-only] [--threads N] [--budget SECONDS] [--list]"
                   " [--profile]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return a;
}

inline void print_time(const std::string& workload, const Timing& t, double gflop, int threads) {
  std::printf("time\t%s\t%.9g\t%.9g\t%d\t%lld\t%.6g\t%d\n", workload.c_str(), t.median_s, t.min_s, t.samples,
              static_cast<long long>(t.steps_per_sample), gflop, threads);
  std::fflush(stdout);
}

inline void print_rss(const std::string& workload, int64_t baseline_kb, int64_t peak_kb) {
  std::printf("rss\t%s\t%lld\t%lld\n", workload.c_str(), static_cast<long long>(baseline_kb),
              static_cast<long long>(peak_kb));
  std::fflush(stdout);
}

// For the kernel comparisons (small_gemm_bench.cpp, panel_gemm_bench.cpp), which
// time one call against another rather than a training step: the best of 5
// rounds of back-to-back calls, at least 20 ms each, in seconds per call.
template <class F>
double best_seconds_per_call(F&& call) {
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const double start = now_s();
    int64_t calls = 0;
    do {
      for (int i = 0; i < 100; ++i) call();  // a clock read per 100 calls: a few ns calls stay exact
      calls += 100;
    } while (now_s() - start < 0.02);
    best = std::min(best, (now_s() - start) / static_cast<double>(calls));
  }
  return best;
}

}  // namespace bench
