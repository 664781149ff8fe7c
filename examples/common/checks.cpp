#include "common/checks.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace examples {

void Checker::expect(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
  if (!ok) ++failures;
}

void Checker::near(double got, double want, double tol, const std::string& what) {
  std::ostringstream s;
  s << std::setprecision(7) << what << ": " << got << " vs " << want << " (tolerance " << tol << ")";
  expect(std::abs(got - want) <= tol, s.str());
}

int Checker::finish() const {
  std::cout << (failures == 0 ? "all checks passed\n" : "CHECKS FAILED\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace examples
