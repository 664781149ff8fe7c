// libFuzzer target: the checkpoint loader on arbitrary bytes.
//
// Any input must end in a StateDict or in heed's IOError naming the rule it
// breaks. Anything else is a bug the fuzzer reports: a crash, an ASan or UBSan
// finding, a leak, an allocation past -rss_limit_mb, or any other exception
// (a std::length_error or a JSON library error escaping would be one).
//
// A file that loads is then given to a module, as a user would: load_state_dict
// must accept it or refuse it with heed's error, never half-apply it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "heed/heed.h"

namespace {

// Small on purpose: the fuzzer's inputs are small, and keys that match these
// names reach load_state_dict's shape and dtype checks.
struct Target : heed::nn::Module {
  Target() {
    fc = register_module("fc", std::make_shared<heed::nn::Linear>(3, 2));
    steps = register_buffer("steps", heed::Tensor::zeros({1}, heed::kInt64));
  }
  std::shared_ptr<heed::nn::Linear> fc;
  heed::Tensor steps;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target target;
  heed::StateDict state;
  try {
    state = heed::load_safetensors_from_bytes(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const heed::IOError&) {
    return 0;  // refused, with a reason: what a bad file should get
  }
  try {
    target.load_state_dict(state, /*strict=*/false);
  } catch (const heed::Error&) {
  }
  return 0;
}
