// The profiler (core/profiler.h): what it records, that its numbers add up,
// and its trace.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "heed/core/parallel.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
using profiler::Kind;

namespace {

// The row of `name` and `kind`, or a row with 0 calls.
profiler::Row find_row(const std::vector<profiler::Row>& rows, const std::string& name, Kind kind,
                       const std::string& site = "") {
  for (const profiler::Row& r : rows)
    if (r.name == name && r.kind == kind && (site.empty() || r.site == site)) return r;
  return {};
}

// A small two-layer network: x [8, 16] -> tanh(x W1^T + b1) -> W2 -> sum of squares.
struct Net : nn::Module {
  Net()
      : l1(register_module("l1", std::make_shared<nn::Linear>(16, 32))),
        l2(register_module("l2", std::make_shared<nn::Linear>(32, 4))) {}
  Tensor forward(const Tensor& x) const {
    Tensor h;
    {
      profiler::Scope label("first");
      h = tanh((*l1)(x));
    }
    profiler::Scope label("second");
    return (*l2)(h);
  }
  std::shared_ptr<nn::Linear> l1, l2;
};

// The self times of one thread's events add up to the totals of its outermost ones.
void check_self_times_add_up(const profiler::detail::ThreadLog& log) {
  int64_t self = 0, outermost = 0;
  for (const profiler::Event& e : log.events) {
    if (e.kind == Kind::Region) continue;
    CHECK(e.end_ns >= e.start_ns);
    CHECK(e.self_ns() >= 0);
    self += e.self_ns();
    if (e.parent < 0) outermost += e.total_ns();
  }
  CHECK(self == outermost);
}

}  // namespace

TEST_CASE("profiler: off, nothing is recorded and ops run as before") {
  CHECK(profiler::detail::this_thread_log() == nullptr);
  profiler::OpScope scope("nothing");  // a no-op without a Profiler
  CHECK(profiler::current_site().session == 0);
  Tensor x = Tensor::randn({3, 3}).requires_grad_();
  Tensor y = matmul(x, x).sum();
  CHECK(y.grad_fn() != nullptr);
  y.backward();
  CHECK(x.grad().defined());
}

TEST_CASE("profiler: ops, backward nodes, phases and labels, with calls, FLOPs and bytes") {
  manual_seed(1);
  Net net;
  optim::SGD opt(net.parameters(), {.lr = 0.1});
  Tensor x = Tensor::randn({8, 16});
  profiler::Profiler prof;
  CHECK(prof.running());
  for (int step = 0; step < 3; ++step) {
    Tensor loss = net.forward(x).pow(2).sum();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  CHECK_THROWS_WITH_AS(prof.rows(), doctest::Contains("stop()"), Error);  // still being written
  prof.stop();
  CHECK_FALSE(prof.running());
  const std::vector<profiler::Row> rows = prof.rows();

  // Each op and each backward node, once per step.
  CHECK(find_row(rows, "linear", Kind::Op).calls == 6);
  CHECK(find_row(rows, "tanh", Kind::Op).calls == 3);
  CHECK(find_row(rows, "pow", Kind::Op).calls == 3);
  CHECK(find_row(rows, "linear", Kind::Backward).calls == 6);
  CHECK(find_row(rows, "tanh", Kind::Backward).calls == 3);
  CHECK(find_row(rows, "accumulate_grad", Kind::Backward).calls == 12);  // 4 parameters
  CHECK(find_row(rows, "backward", Kind::Phase).calls == 3);
  CHECK(find_row(rows, "optimizer.step", Kind::Phase).calls == 3);
  CHECK(find_row(rows, "optimizer.zero_grad", Kind::Phase).calls == 3);
  CHECK(find_row(rows, "first", Kind::Label).calls == 3);

  // A linear x W^T of [8, 16] by [16, 32] and one of [8, 32] by [32, 4]: 2 M N K each.
  const int64_t forward_flops = 2 * 8 * 32 * 16 + 2 * 8 * 4 * 32;
  CHECK(find_row(rows, "linear", Kind::Op).flops == 3 * forward_flops);
  // Its backward: dx (l2 only: l1's input needs none) and dW, one product each.
  CHECK(find_row(rows, "linear", Kind::Backward).flops == 3 * (forward_flops + 2 * 8 * 32 * 4));
  // tanh's output [8, 32] floats, made once a step.
  CHECK(find_row(rows, "tanh", Kind::Op).bytes == 3 * 8 * 32 * 4);

  // Self never exceeds total; the backward phase holds its nodes.
  for (const profiler::Row& r : rows) CHECK(r.self_ns <= r.total_ns);
  const profiler::Row phase = find_row(rows, "backward", Kind::Phase);
  CHECK(phase.total_ns >= find_row(rows, "linear", Kind::Backward).total_ns);
  for (const auto& log : prof.threads()) check_self_times_add_up(*log);
  int64_t sum = 0;
  for (const profiler::Row& r : rows) sum += r.self_ns;
  CHECK(sum == prof.self_ns_sum());
  CHECK(prof.self_ns_sum() <= prof.wall_ns() * static_cast<int64_t>(prof.threads().size()));

  // The table shows them, most self time first.
  const std::string table = prof.table();
  CHECK(table.find("linear") != std::string::npos);
  CHECK(table.find("optimizer.step") != std::string::npos);
  for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i - 1].self_ns >= rows[i].self_ns);
}

TEST_CASE("profiler: backward nodes know where the forward made them") {
  Net net;
  Tensor x = Tensor::randn({8, 16});
  Tensor outside = Tensor::randn({4}).requires_grad_();
  Tensor made_before = (outside * 2).sum();  // recorded before the profiler started
  profiler::Profiler prof;
  net.forward(x).sum().backward();
  made_before.backward();
  prof.stop();
  const std::vector<profiler::Row> rows = prof.rows(/*group_by_site=*/true);
  CHECK(find_row(rows, "linear", Kind::Backward, "first").calls == 1);
  CHECK(find_row(rows, "linear", Kind::Backward, "second").calls == 1);
  CHECK(find_row(rows, "tanh", Kind::Backward, "first").calls == 1);
  CHECK(find_row(rows, "sum", Kind::Backward, "(top level)").calls == 1);
  CHECK(find_row(rows, "mul_scalar", Kind::Backward, "(made with the profiler off)").calls == 1);
  // Forward rows are not split by site.
  CHECK(find_row(rows, "linear", Kind::Op).calls == 2);
  CHECK(prof.table({.group_by_site = true}).find("first") != std::string::npos);
  const std::string backward_only = prof.table({.kind = Kind::Backward});
  CHECK(backward_only.find("optimizer") == std::string::npos);
  CHECK(backward_only.find(" op ") == std::string::npos);
}

TEST_CASE("profiler: one at a time, stop() closes open scopes, and a stopped scope ends quietly") {
  std::optional<profiler::Profiler> prof;
  prof.emplace();
  CHECK_THROWS_WITH_AS(profiler::Profiler(), doctest::Contains("already running"), Error);
  {
    profiler::Scope outer("outer");
    Tensor y = Tensor::ones({4}) + 1;
    prof->stop();  // inside the scope: it ends at stop()
    Tensor z = y * 2;  // not recorded
  }
  const std::vector<profiler::Row> rows = prof->rows();
  CHECK(find_row(rows, "outer", Kind::Label).calls == 1);
  CHECK(find_row(rows, "add", Kind::Op).calls == 1);
  CHECK(find_row(rows, "mul", Kind::Op).calls == 0);
  for (const auto& log : prof->threads()) check_self_times_add_up(*log);
  prof.reset();
  profiler::Profiler again;  // the next one may start
  CHECK(again.running());
}

TEST_CASE("profiler: the Chrome trace holds every event, the phases and the OpenMP regions") {
  Net net;
  optim::Adam opt(net.parameters(), {.lr = 1e-3});
  Tensor x = Tensor::randn({8, 16});
  std::vector<float> out(1 << 16);
  profiler::Profiler prof;
  for (int step = 0; step < 2; ++step) {
    {
      // parallel_for itself, as the fast kernels call it (a reference build's
      // kernels are plain loops): each thread of the team records its share.
      profiler::Scope label("loop");
      parallel_for(static_cast<int64_t>(out.size()), true, [&](int64_t i) { out[static_cast<size_t>(i)] = 1; });
    }
    Tensor loss = net.forward(x).pow(2).sum();
    opt.zero_grad();
    loss.backward();
    nn::clip_grad_norm_(net.parameters(), 1.0);
    opt.step();
  }
  prof.stop();
  const std::string path = "profiler_trace_test.json";
  prof.write_chrome_trace(path);
  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::remove(path.c_str());

  size_t events = 0, recorded = 0;
  std::map<std::string, int> phases, categories;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    ++events;
    CHECK(e["dur"].get<double>() >= 0);
    if (e["cat"] == "phase") ++phases[e["name"].get<std::string>()];
    else ++categories[e["cat"].get<std::string>()];
  }
  for (const auto& log : prof.threads()) recorded += log->events.size();
  // Every event, and one drawn phase per run of ops outside any phase.
  CHECK(events == recorded + static_cast<size_t>(phases["forward"] + phases["other ops"]));
  CHECK(phases["forward"] == 2);
  CHECK(phases["other ops"] == 2);  // the clipping, between backward and step
  CHECK(phases["backward"] == 2);
  CHECK(phases["optimizer.step"] == 2);
  CHECK(categories["forward"] > 0);
  CHECK(categories["backward"] > 0);
  CHECK(categories["other ops"] > 0);
  CHECK(categories["label"] == 6);
  CHECK(categories["openmp"] == 2 * omp_get_max_threads());  // each thread's share of each step's loop
  // An unwritable path: an IOError, and nothing left behind.
  CHECK_THROWS_AS(prof.write_chrome_trace("/nonexistent-dir/trace.json"), IOError);
}

TEST_CASE("threads: the profiler records two training threads apart") {
  // Two threads train at once under one Profiler: each writes its own list
  // (tests/run_all.sh runs this under ThreadSanitizer).
  manual_seed(3);
  Net a, b;
  Tensor x = Tensor::randn({8, 16});
  profiler::Profiler prof;
  auto train = [&x](Net& net) {
    optim::SGD opt(net.parameters(), {.lr = 0.01});
    for (int step = 0; step < 5; ++step) {
      Tensor loss = net.forward(x).pow(2).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  };
  std::thread ta(train, std::ref(a)), tb(train, std::ref(b));
  ta.join();
  tb.join();
  prof.stop();
  size_t with_events = 0;
  for (const auto& log : prof.threads()) {
    if (log->events.empty()) continue;
    ++with_events;
    check_self_times_add_up(*log);
  }
  CHECK(with_events >= 2);
  const std::vector<profiler::Row> rows = prof.rows();
  CHECK(find_row(rows, "linear", Kind::Op).calls == 20);
  CHECK(find_row(rows, "backward", Kind::Phase).calls == 10);
  // Each backward node names the site on its own thread's list.
  const std::vector<profiler::Row> by_site = prof.rows(true);
  CHECK(find_row(by_site, "linear", Kind::Backward, "first").calls == 10);
}

TEST_CASE("profiler: a training loop's self times add up to its measured time") {
  // What the GPT example checks at full size (examples/gpt.cpp --profile): the
  // table misses nothing big and counts nothing twice.
  manual_seed(4);
  nn::MultiheadAttention attn(32, 4);
  optim::Adam opt(attn.parameters(), {.lr = 1e-3});
  Tensor x = Tensor::randn({4, 16, 32});
  auto step = [&] {
    Tensor loss = attn.forward(x, x, x).output.pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  step();  // warm the caches
  profiler::Profiler prof;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) step();
  const auto t1 = std::chrono::steady_clock::now();
  prof.stop();
  const double measured = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  const double table = static_cast<double>(prof.self_ns_sum());
  CAPTURE(measured);
  CAPTURE(table);
  CHECK(table <= measured * 1.001);  // one thread's events cannot cover more than its time
  CHECK(table >= measured * 0.9);
}
