// Writes the fuzzer's seed corpus: small safetensors files, written by heed,
// that cover what the format holds (every dtype heed has, 0-d and empty
// tensors, metadata, keys that the fuzz target's module has). The fuzzer
// mutates these, so its inputs start as files that load and wander from there.
//
//   write_seeds <directory>
#include <filesystem>
#include <iostream>

#include "heed/heed.h"

using namespace heed;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_seeds <directory>\n";
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  manual_seed(0);

  StateDict module;  // the fuzz target's own keys (load_safetensors.cpp)
  module.set("fc.weight", Tensor::randn({2, 3}));
  module.set("fc.bias", Tensor::randn({2}));
  module.set("steps", Tensor::from_vector(std::vector<int64_t>{7}, {1}));
  save_safetensors(module, dir / "module.safetensors", {{"epoch", "3"}});

  StateDict kinds;
  kinds.set("f32", Tensor::randn({2, 2}));
  kinds.set("f64", Tensor::randn({3}, kFloat64));
  kinds.set("i64", Tensor::randint(-9, 9, {2, 1, 2}));
  kinds.set("scalar", Tensor::scalar(1.5));
  kinds.set("empty", Tensor::zeros({0, 3}));
  kinds.set("strided", Tensor::randn({2, 3}).t());
  save_safetensors(kinds, dir / "kinds.safetensors");
  save_safetensors(kinds, dir / "kinds_f16.safetensors", {}, FloatFormat::F16);  // the 16-bit float path
  save_safetensors(kinds, dir / "kinds_bf16.safetensors", {}, FloatFormat::BF16);

  save_safetensors(StateDict{}, dir / "nothing.safetensors");
  save_safetensors(StateDict{}, dir / "metadata_only.safetensors", {{"a", "b"}, {"note", "ünïcode"}});

  StateDict wrong;  // the module's keys with the wrong shape and dtype
  wrong.set("fc.weight", Tensor::randn({3, 2}, kFloat64));
  wrong.set("steps", Tensor::full({1}, 0.5));
  save_safetensors(wrong, dir / "wrong_shapes.safetensors");
  return 0;
}
