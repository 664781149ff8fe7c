// The process group's collectives, run under mpirun with 2, 3 and 4 processes
// (tests/dist/CMakeLists.txt). Every rank runs every test case, in the same
// order, so their collectives meet; each rank checks its own results.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "heed/dist/dist.h"

using namespace heed;
using namespace heed::dist;

namespace {

// Rank r's element i: small integers, so every sum is exact in float32.
double value(int r, int64_t i) { return (r + 1) * static_cast<double>(i % 13) - 6; }

Tensor rank_tensor(int r, int64_t n, DType dtype) {
  Tensor t = Tensor::empty({n}, dtype);
  dispatch_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(value(r, i));
  });
  return t;
}

// sum over the ranks of value(r, i)
double sum_over_ranks(int size, int64_t i) {
  double s = 0;
  for (int r = 0; r < size; ++r) s += value(r, i);
  return s;
}

}  // namespace

TEST_CASE("world: rank and size, seen by every rank") {
  const ProcessGroup world = ProcessGroup::world();
  REQUIRE(world.size() >= 2);
  CHECK(world.rank() >= 0);
  CHECK(world.rank() < world.size());
  Tensor ranks = world.allgather(Tensor::from_vector(std::vector<int64_t>{world.rank()}, {1}));
  CHECK(ranks.shape() == Shape{world.size(), 1});
  std::vector<int64_t> got = ranks.to_vector<int64_t>();
  for (int r = 0; r < world.size(); ++r) CHECK(got[static_cast<size_t>(r)] == r);
}

TEST_CASE("allreduce: sum and average in place, from 1 element to several 25 MB buckets") {
  const ProcessGroup world = ProcessGroup::world();
  const int size = world.size(), rank = world.rank();
  for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{4097}, int64_t{1} << 20, int64_t{20'000'000}}) {
    CAPTURE(n);
    Tensor sum = rank_tensor(rank, n, kFloat32);
    const float* before = sum.data_ptr<float>();
    world.allreduce(sum);
    CHECK(sum.data_ptr<float>() == before);  // in place: the same memory
    int64_t wrong = 0;
    const float* s = sum.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) wrong += s[i] != static_cast<float>(sum_over_ranks(size, i));
    CHECK(wrong == 0);

    Tensor mean = rank_tensor(rank, n, kFloat64);
    world.allreduce(mean, ReduceOp::kAverage);
    const double* m = mean.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) wrong += std::abs(m[i] - sum_over_ranks(size, i) / size) > 1e-12;
    CHECK(wrong == 0);
  }
  Tensor counts = Tensor::from_vector(std::vector<int64_t>{rank, 1}, {2});
  world.allreduce(counts);
  CHECK(counts.to_vector<int64_t>() == std::vector<int64_t>{size * (size - 1) / 2, size});
}

TEST_CASE("allreduce_async: in flight together, waited in any order, or by the handle's destructor") {
  const ProcessGroup world = ProcessGroup::world();
  const int size = world.size(), rank = world.rank();
  Tensor a = rank_tensor(rank, 1000, kFloat32), b = rank_tensor(rank, 3, kFloat64);
  Work wa = world.allreduce_async(a);
  Work wb = world.allreduce_async(b, ReduceOp::kAverage);
  wb.wait();
  wa.wait();
  wa.wait();  // a second wait is a no-op
  CHECK(a.data_ptr<float>()[999] == static_cast<float>(sum_over_ranks(size, 999)));
  CHECK(b.data_ptr<double>()[2] == doctest::Approx(sum_over_ranks(size, 2) / size));

  Tensor c = rank_tensor(rank, 10, kFloat32);
  {
    Work dropped = world.allreduce_async(c);
  }  // waits here
  CHECK(c.data_ptr<float>()[7] == static_cast<float>(sum_over_ranks(size, 7)));
  Work done = world.allreduce_async(c);
  while (!done.is_completed()) std::this_thread::yield();
  CHECK(c.data_ptr<float>()[7] == static_cast<float>(size * sum_over_ranks(size, 7)));
}

TEST_CASE("broadcast: every rank gets root's tensor; different shapes are an error on every rank") {
  const ProcessGroup world = ProcessGroup::world();
  const int size = world.size(), rank = world.rank();
  for (int root : {0, size - 1}) {
    Tensor t = rank_tensor(rank, 6, kFloat64).reshape({2, 3});
    world.broadcast(t, root);
    CHECK(t.to_vector<double>() == rank_tensor(root, 6, kFloat64).to_vector<double>());
  }
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{rank, rank}, {2});
  world.broadcast(ids, 1);
  CHECK(ids.to_vector<int64_t>() == std::vector<int64_t>{1, 1});

  Tensor odd = Tensor::zeros({rank == 1 ? 4 : 3});
  CHECK_THROWS_WITH_AS(world.broadcast(odd, 0), doctest::Contains("every rank must pass the same shape"), ShapeError);
  // The group is still in step after the error.
  Tensor after = Tensor::full({2}, static_cast<double>(rank));
  world.broadcast(after, 0);
  CHECK(after.to_vector() == std::vector<float>{0, 0});
}

TEST_CASE("barrier: no rank leaves before the last one arrives") {
  const ProcessGroup world = ProcessGroup::world();
  const auto start = std::chrono::steady_clock::now();
  if (world.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  world.barrier();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited >= 0.25);  // everyone waited for rank 0's sleep
}

TEST_CASE("allgather: each rank's metric, in rank order") {
  const ProcessGroup world = ProcessGroup::world();
  Tensor loss = Tensor::scalar(0.5 * world.rank(), kFloat64);
  Tensor all = world.allgather(loss);
  CHECK(all.shape() == Shape{world.size()});
  for (int r = 0; r < world.size(); ++r) CHECK(all.at({r}) == 0.5 * r);
  Tensor odd = Tensor::zeros({world.rank() == 0 ? 2 : 1});
  CHECK_THROWS_WITH_AS(world.allgather(odd), doctest::Contains("every rank must pass the same"), ShapeError);
}

TEST_CASE("bad arguments are clear errors, before any message is sent") {
  const ProcessGroup world = ProcessGroup::world();
  Tensor m = Tensor::zeros({3, 4});
  Tensor column = m.t();
  CHECK_THROWS_WITH_AS(world.allreduce(column), doctest::Contains("is not contiguous"), ValueError);
  Tensor ids = Tensor::zeros({3}, kInt64);
  CHECK_THROWS_WITH_AS(world.allreduce(ids, ReduceOp::kAverage), doctest::Contains("an average of int64"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(world.broadcast(m, world.size()), doctest::Contains("is not a rank of this group"), IndexError);
  Tensor undefined;
  CHECK_THROWS_WITH_AS(world.allreduce(undefined), doctest::Contains("undefined"), ValueError);
  world.barrier();  // and the group is still in step
}

int main(int argc, char** argv) {
  Environment mpi(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
