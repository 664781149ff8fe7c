// Grad mode: whether ops record the graph. On by default; off inside a
// NoGradGuard (evaluation, optimizer updates) and inside backward itself.
#pragma once

namespace heed {

bool is_grad_enabled();
void set_grad_enabled(bool on);

// RAII: grad mode is `on` for this object's lifetime, then back as it was.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : was_(is_grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(was_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool was_;
};

// The usual one, torch.no_grad():
//   { NoGradGuard no_grad; y = model.forward(x); }   // no graph is built
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace heed
