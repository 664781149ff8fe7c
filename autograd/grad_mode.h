// Grad mode: whether ops record the graph. On by default; off inside a
// NoGradGuard (evaluation, optimizer updates) and inside backward itself.
#pragma once

namespace heed {

bool is_grad_enabled();
void set_grad_enabled(bool on);

// RAII: grad mode is off for this object's lifetime, then back as it was.
//   { NoGradGuard no_grad; y = model.forward(x); }   // no graph is built
class NoGradGuard {
 public:
  NoGradGuard() : was_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(was_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool was_;
};

}  // namespace heed
