// How much memory loading a large checkpoint takes, beyond the tensors it
// creates: a checkpoint is read once, straight into the tensors' storage (and
// 16-bit floats through a small buffer), so the peak should be the tensors plus
// a few megabytes, not twice the file.
//
//   load_memory MB [F32|F16|BF16]   writes MB megabytes of float32 tensors (as
//                                   stored: F16 and BF16 make the file half that),
//                                   then, in a fresh child process, loads them and
//                                   prints its peak resident memory; fails if the
//                                   peak exceeds the tensors by more than 64 MB.
#include <heed/heed.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using namespace heed;

namespace {

double peak_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: load_memory MB [F32|F16|BF16]\n";
    return 2;
  }
  const int64_t mb = std::stoll(argv[1]);
  const std::string format = argc > 2 ? argv[2] : "F32";
  const FloatFormat floats = format == "F16" ? FloatFormat::F16 : format == "BF16" ? FloatFormat::BF16 : FloatFormat::F32;
  const std::string path = (std::filesystem::temp_directory_path() / ("heed_load_memory_" + format + ".safetensors")).string();

  // Write from a child, so this process's peak does not include the saved tensors.
  const int64_t per_tensor = 64LL << 20;  // 64 MB of float32 each
  const int64_t tensors = (mb << 20) / per_tensor;
  if (pid_t writer = fork(); writer == 0) {
    StateDict s;
    for (int64_t i = 0; i < tensors; ++i) s.set("t" + std::to_string(i), Tensor::ones({per_tensor / 4}));
    save_safetensors(s, path, {}, floats);
    _exit(0);
  } else {
    int status = 0;
    waitpid(writer, &status, 0);
    if (status != 0) return 1;
  }
  const double before = peak_mb();
  StateDict loaded = load_safetensors(path);
  const double after = peak_mb();
  const double tensor_mb = static_cast<double>(tensors * per_tensor) / (1 << 20);
  const auto file_mb = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  std::filesystem::remove(path);
  std::printf("%s file %.0f MB -> %zu tensors of %.0f MB in all; peak RSS %.0f MB before the load, %.0f MB after: "
              "%.1f MB beyond the tensors\n",
              format.c_str(), file_mb, loaded.size(), tensor_mb, before, after, after - before - tensor_mb);
  return after - before - tensor_mb <= 64 ? 0 : 1;
}
