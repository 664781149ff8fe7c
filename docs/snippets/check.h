// What every snippet of the tour uses to check its claims: check() prints each
// claim with ok or FAIL, and main() returns tour::failures(), so ctest fails
// the snippet (docs_<name>) as soon as one claim stops being true.
#pragma once

#include <heed/heed.h>

#include <iostream>
#include <string>

namespace tour {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void check(bool ok, const std::string& claim) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << claim << "\n";
  if (!ok) ++failures();
}

// Largest |a - b| over all elements.
inline double max_diff(const heed::Tensor& a, const heed::Tensor& b) {
  return heed::max(heed::abs(a - b)).item();
}

// True when f() throws an E whose message contains `phrase` (and prints the message).
template <class E, class F>
bool throws(F f, const std::string& phrase) {
  try {
    f();
  } catch (const E& e) {
    std::cout << "        (" << e.what() << ")\n";
    return std::string(e.what()).find(phrase) != std::string::npos;
  }
  return false;
}

}  // namespace tour
