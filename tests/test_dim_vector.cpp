// DimVector (core/dim_vector.h), the inline list of sizes behind Shape and
// Strides: it must behave like std::vector<int64_t> on both sides of its six
// inline slots, and when a list moves between them.
#include <sstream>
#include <vector>

#include "helpers.h"

using namespace heed;

namespace {
// The same list as a std::vector, to compare element by element.
std::vector<int64_t> as_std(const DimVector& v) { return {v.begin(), v.end()}; }
}  // namespace

TEST_CASE("DimVector: construct, compare, copy and move inline and on the heap") {
  for (size_t n : {0u, 1u, 6u, 7u, 20u}) {
    INFO("n = " << n);
    std::vector<int64_t> ref(n);
    for (size_t i = 0; i < n; ++i) ref[i] = static_cast<int64_t>(10 * i + 1);
    DimVector a(ref.begin(), ref.end());
    CHECK(a.size() == n);
    CHECK(as_std(a) == ref);
    CHECK(a.capacity() >= n);

    DimVector copy = a;
    CHECK(copy == a);
    CHECK(copy.data() != a.data());  // a deep copy, inline or not
    if (n > 0) {
      copy[0] = -5;
      CHECK(a[0] == 1);  // writing the copy leaves the original alone
      CHECK(!(copy == a));
    }

    DimVector moved = std::move(a);
    CHECK(as_std(moved) == ref);
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    a.push_back(3);    // and usable again
    CHECK(as_std(a) == std::vector<int64_t>{3});

    DimVector assigned{9, 9};
    assigned = moved;
    CHECK(as_std(assigned) == ref);
    assigned = DimVector(n, 4);
    CHECK(as_std(assigned) == std::vector<int64_t>(n, 4));
  }
}

TEST_CASE("DimVector: push_back, insert and erase across the inline limit") {
  DimVector v;
  std::vector<int64_t> ref;
  for (int64_t i = 0; i < 9; ++i) {
    v.push_back(i);
    ref.push_back(i);
    REQUIRE(as_std(v) == ref);
  }
  CHECK(v.capacity() > DimVector::kInline);  // it moved to the heap on the way

  v.insert(v.begin() + 2, 100);
  ref.insert(ref.begin() + 2, 100);
  CHECK(as_std(v) == ref);
  v.insert(v.end(), {7, 8});
  ref.insert(ref.end(), {7, 8});
  CHECK(as_std(v) == ref);
  // Inserting elements of the vector itself: the source must be read before it moves.
  v.insert(v.begin(), v.begin() + 1, v.begin() + 4);
  const std::vector<int64_t> head(ref.begin() + 1, ref.begin() + 4);
  ref.insert(ref.begin(), head.begin(), head.end());
  CHECK(as_std(v) == ref);

  v.erase(v.begin() + 1);
  ref.erase(ref.begin() + 1);
  CHECK(as_std(v) == ref);
  v.erase(v.begin(), v.begin() + 3);
  ref.erase(ref.begin(), ref.begin() + 3);
  CHECK(as_std(v) == ref);
  CHECK(v.back() == ref.back());
  CHECK(v.front() == ref.front());

  v.resize(2);
  CHECK(as_std(v) == std::vector<int64_t>(ref.begin(), ref.begin() + 2));
  v.resize(4, -1);
  CHECK(v[2] == -1);
  CHECK(v[3] == -1);
  v.pop_back();
  CHECK(v.size() == 3);
  v.clear();
  CHECK(v.empty());
}

TEST_CASE("DimVector: ordering, reverse iteration and conversion") {
  CHECK(DimVector{1, 2} < DimVector{1, 3});
  CHECK(DimVector{1, 2} < DimVector{1, 2, 0});
  CHECK(!(DimVector{2} < DimVector{1, 9}));
  DimVector v{1, 2, 3};
  CHECK(std::vector<int64_t>(v.rbegin(), v.rend()) == std::vector<int64_t>{3, 2, 1});
  CHECK(v.vec() == std::vector<int64_t>{1, 2, 3});
  Shape s = std::vector<int64_t>{4, 5};  // a Shape still takes a std::vector
  CHECK(s == Shape{4, 5});
  std::ostringstream os;
  os << s;
  CHECK(os.str() == "[4, 5]");
}
