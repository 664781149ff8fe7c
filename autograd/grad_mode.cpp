#include "heed/autograd/grad_mode.h"

namespace heed {

// Per thread, as in PyTorch: one thread evaluating under no-grad must not stop
// another from training.
static thread_local bool t_grad_enabled = true;

bool is_grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

}  // namespace heed
