// What --check does in an example: each claim checked, printed as "ok" or
// "FAIL" as it goes, and counted; at the end one verdict and the exit status.
//
//   examples::Checker c;
//   c.expect(loss_after < loss_before, "the loss fell");
//   c.near(weights.at({0, 0}), 0.6225, 1e-4, "the first weight");
//   return c.finish();   // "all checks passed" and 0, or "CHECKS FAILED" and 1
#pragma once

#include <string>

namespace examples {

struct Checker {
  int failures = 0;
  void expect(bool ok, const std::string& what);
  void near(double got, double want, double tol, const std::string& what);
  int finish() const;
};

}  // namespace examples
