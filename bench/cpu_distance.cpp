// How far apart two CPUs are, in the time a cache line takes to go from one to
// the other and back:
//
//   cpu_distance [CPU_A CPU_B] [ROUND_TRIPS]      (default: CPUs 0 and 1, 200000)
//
// prints `distance <round trip in ns>`. Two threads, pinned one to each CPU,
// pass a counter back and forth through one atomic: each waits until the
// other has written the value it expects, then writes the next. Every hand-over
// moves the counter's cache line between the two cores, so the time per round
// trip is two such moves, with nothing else in the way.
//
// On a virtual machine the answer is not fixed: the hypervisor may place two
// vCPUs on cores that share a cache (tens of ns) and later on cores that do not
// (hundreds), and every parallel region of a program pays in that currency.
// bench/w4_states.sh runs this around each two-thread run of W4 to tell the
// two states apart (bench/RESULTS.md, "W4 run by run on the AMD machine").
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// The counter on a cache line of its own: nothing else shares its moves.
struct alignas(64) Line {
  std::atomic<long> value{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 1 && argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s [CPU_A CPU_B] [ROUND_TRIPS]\n", argv[0]);
    return 2;
  }
  const int cpu_a = argc >= 3 ? std::atoi(argv[1]) : 0, cpu_b = argc >= 3 ? std::atoi(argv[2]) : 1;
  const long trips = argc == 4 ? std::atol(argv[3]) : 200000;
  if (trips <= 0) {
    std::fprintf(stderr, "cpu_distance: ROUND_TRIPS must be positive, got %ld\n", trips);
    return 2;
  }
  Line line;
  bool pinned_b = true;
  // The partner answers odd values: it waits for 2t + 1 and writes 2t + 2.
  std::thread partner([&] {
    pinned_b = pin_to(cpu_b);
    for (long t = 0; t < trips; ++t) {
      while (line.value.load(std::memory_order_acquire) != 2 * t + 1) {
      }
      line.value.store(2 * t + 2, std::memory_order_release);
    }
  });
  if (!pin_to(cpu_a)) {
    std::fprintf(stderr, "cpu_distance: cannot run on CPU %d\n", cpu_a);
    std::exit(1);  // the partner is left waiting; exit ends it with the process
  }
  const auto start = std::chrono::steady_clock::now();
  for (long t = 0; t < trips; ++t) {
    line.value.store(2 * t + 1, std::memory_order_release);
    while (line.value.load(std::memory_order_acquire) != 2 * t + 2) {
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  partner.join();
  if (!pinned_b) {
    std::fprintf(stderr, "cpu_distance: cannot run on CPU %d\n", cpu_b);
    return 1;
  }
  std::printf("distance\t%.1f\n", ns / static_cast<double>(trips));
  return 0;
}
