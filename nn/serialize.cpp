// safetensors checkpoints. The layout of a file:
//
//   [ N: 8 bytes, little-endian u64 ][ N bytes: JSON header, space-padded ][ data ]
//
//   header: {"__metadata__": {"epoch": "3"},
//            "fc.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
//            "fc.bias":   {"dtype": "F32", "shape": [3],    "data_offsets": [48, 60]}}
//
// data_offsets are relative to the start of the data. A file is input from
// anywhere (a download, a half-written disk), so load checks every number in
// the header against the real file size before it allocates or reads anything.
#include "heed/nn/serialize.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

#include "heed/autograd/grad_mode.h"
#include "heed/core/half.h"
#include "heed/nn/module.h"
#include "heed/nn/safetensors_header.h"

namespace heed {

// Tensor bytes go to disk exactly as they sit in memory, and the format is
// little-endian; a big-endian port would need a byte swap here.
static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; heed writes tensor memory as is");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // real headers are kilobytes; refuse absurd ones
// 16-bit floats are converted through a buffer of this many elements (128 KB),
// so converting never needs a second copy of a whole tensor.
constexpr int64_t kConvertChunk = 65536;

// ============================================================================
// save
// ============================================================================

// A file's contents for `state`, ready to write: the header's text (written by
// nn/safetensors_header.h) and each tensor as a contiguous tensor, in the same
// order. Building it throws on a bad state before a byte is written anywhere.
struct Encoded {
  std::string header;
  std::vector<Tensor> data;
  std::vector<safetensors::Stored> stored;  // how each of them goes to the file

  Encoded(const StateDict& state, const std::map<std::string, std::string>& metadata, FloatFormat floats) {
    safetensors::Header h;
    h.metadata = metadata;
    uint64_t offset = 0;
    for (const auto& [key, t] : state) {
      if (!t.defined())
        throw ValueError(msg("save_safetensors: the tensor '", key, "' is undefined"));
      // contiguous() turns a strided view into the row-major values it shows;
      // detach() keeps that copy out of any autograd graph.
      Tensor c = t.detach().contiguous();
      safetensors::Stored as = safetensors::stored_as(c.dtype());
      if (c.dtype() == kFloat32 && floats == FloatFormat::F16) as = safetensors::Stored::F16;
      if (c.dtype() == kFloat32 && floats == FloatFormat::BF16) as = safetensors::Stored::BF16;
      const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * safetensors::stored_size(as);
      h.entries.push_back({key, as, c.shape(), offset, offset + nbytes});
      offset += nbytes;
      data.push_back(std::move(c));
      stored.push_back(as);
    }
    header = safetensors::write_header(h, "save_safetensors");
  }

  // Hands the file's bytes, in order, to write(pointer, size).
  template <class Write>
  void emit(Write&& write) const {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
    write(length, sizeof length);
    write(header.data(), header.size());
    for (size_t k = 0; k < data.size(); ++k) {
      const Tensor& t = data[k];
      if (stored[k] == safetensors::stored_as(t.dtype())) {
        write(t.raw_data_ptr(), static_cast<size_t>(t.numel()) * element_size(t.dtype()));
        continue;
      }
      // float32 narrowed to 16 bits, a buffer's worth at a time.
      auto narrow = stored[k] == safetensors::Stored::F16 ? float_to_half : float_to_bfloat16;
      const float* values = t.data_ptr<float>();
      std::vector<uint16_t> buffer;
      for (int64_t at = 0; at < t.numel(); at += kConvertChunk) {
        const int64_t n = std::min(kConvertChunk, t.numel() - at);
        buffer.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) buffer[static_cast<size_t>(i)] = narrow(values[at + i]);
        write(buffer.data(), buffer.size() * sizeof(uint16_t));
      }
    }
  }
};

// Temporary files of earlier saves to `path` whose writer is gone: a process
// killed mid-save cannot remove its own, so the next save to the same path does.
// A writer holds an exclusive flock on its temporary file for as long as it
// lives (the kernel drops the lock when the process dies), so a file whose lock
// can be taken has no writer, with one exception: a writer between its open()
// and its flock(). That file is still empty (the writer writes only once it holds
// the lock), so an empty file is left alone unless it is over 10 s old.
void remove_abandoned_temp_files(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp-";
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() != prefix.size() + 8 || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::error_code size_ec, age_ec;
    const bool empty = fs::file_size(e.path(), size_ec) == 0;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), age_ec);
    if (size_ec || age_ec || (empty && age < std::chrono::seconds(10))) continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(e.path().c_str());  // no writer: abandoned
    ::close(fd);
  }
}

// A file opened under a fresh random name beside `path`, locked (flock) while it
// is being written. Unless commit() renames it over `path`, the destructor
// removes it: every error path cleans up. A kill leaves it behind, until the
// next save to `path` removes it (remove_abandoned_temp_files).
class TempFile {
 public:
  explicit TempFile(const std::string& path) : target_(path) {
    remove_abandoned_temp_files(path);
    std::random_device rd;
    for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
      char suffix[16];
      std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
      name_ = path + ".tmp-" + suffix;
      // O_EXCL: never clobber a file that happens to have the same name.
      fd_ = ::open(name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd_ < 0 && errno != EEXIST) fail("cannot create");
    }
    if (fd_ < 0) fail("cannot create");
    ::flock(fd_, LOCK_EX);  // "a writer is alive": held until close, or until the process dies
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(name_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* p, size_t n) {
    const char* bytes = static_cast<const char*>(p);
    while (n > 0) {  // write() may write less than asked (or be interrupted); loop
      ssize_t w = ::write(fd_, bytes, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail("cannot write");
      bytes += w;
      n -= static_cast<size_t>(w);
    }
  }

  // fsync before rename: otherwise a crash could leave the new name pointing at
  // a file whose data never reached the disk.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush");
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close");
    if (::rename(name_.c_str(), target_.c_str()) != 0)
      throw IOError(msg("save_safetensors: cannot rename ", name_, " to ", target_, ": ",
                        std::strerror(errno)));
    committed_ = true;
    sync_directory();
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw IOError(msg("save_safetensors: ", what, " ", name_, " (saving ", target_, "): ",
                      std::strerror(errno)));
  }
  // Makes the rename itself durable. Best effort: the new file is complete either way.
  void sync_directory() {
    std::string dir = target_.find('/') == std::string::npos
                          ? "."
                          : target_.substr(0, target_.rfind('/') + 1);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }

  std::string target_, name_;
  int fd_ = -1;
  bool committed_ = false;
};

// ============================================================================
// load
// ============================================================================

// Copies n bytes at `offset` of the input (a file or memory) to dst; returns
// how many it copied, fewer only where the input ends.
using ReadAt = std::function<uint64_t(uint64_t offset, void* dst, uint64_t n)>;

// Reads and checks a safetensors image of `size` bytes (nn/serialize.h lists the
// rules). Each size is checked against `size` before anything is allocated or
// read; the reads can still come up short if a file shrinks during the load.
StateDict read_safetensors(uint64_t size, const ReadAt& read, const safetensors::LoadFailure& fail,
                           std::map<std::string, std::string>* metadata) {
  if (size < 8) fail(msg("the file has ", size, " bytes; it needs at least 8 (the header length)"));
  uint8_t length[8] = {};
  if (read(0, length, 8) != 8) fail("cannot read the header length (did the file change during the load?)");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{length[i]} << (8 * i);
  if (header_size > kMaxHeaderBytes)
    fail(msg("the header length (", header_size, " bytes) is over the ", kMaxHeaderBytes,
             "-byte limit; the file is corrupt or not safetensors"));
  if (header_size > size - 8)
    fail(msg("the header length (", header_size, " bytes) runs past the end of the file (", size, " bytes)"));
  std::string text(header_size, '\0');
  if (read(8, text.data(), header_size) != header_size) fail("the file ended inside the header");

  const uint64_t data_start = 8 + header_size;
  const safetensors::Header header = safetensors::read_header(text, size - data_start, fail.source);
  if (metadata)
    for (const auto& [k, v] : header.metadata) (*metadata)[k] = v;

  // Every size below is now proven to lie inside the input.
  StateDict out;
  for (const safetensors::Entry& e : header.entries) {
    const DType dtype = safetensors::loaded_dtype(e.stored);
    Tensor t = make_tensor(e.shape, dtype, /*zero_fill=*/false);
    auto short_read = [&] { fail(e.key, "the file ended while reading its data (did it change during the load?)"); };
    if (e.stored == safetensors::stored_as(dtype)) {  // straight into the tensor's storage
      const uint64_t nbytes = e.end - e.begin;
      if (read(data_start + e.begin, t.raw_data_ptr(), nbytes) != nbytes) short_read();
    } else {  // 16-bit floats, widened to float32 a buffer's worth at a time
      auto widen = e.stored == safetensors::Stored::F16 ? half_to_float : bfloat16_to_float;
      float* values = t.data_ptr<float>();
      std::vector<uint16_t> buffer;
      for (int64_t at = 0; at < t.numel(); at += kConvertChunk) {
        const int64_t n = std::min(kConvertChunk, t.numel() - at);
        buffer.resize(static_cast<size_t>(n));
        const uint64_t nbytes = buffer.size() * sizeof(uint16_t);
        if (read(data_start + e.begin + static_cast<uint64_t>(at) * sizeof(uint16_t), buffer.data(), nbytes) != nbytes)
          short_read();
        for (int64_t i = 0; i < n; ++i) values[at + i] = widen(buffer[static_cast<size_t>(i)]);
      }
    }
    out.set(e.key, t);
  }
  return out;
}

}  // namespace

void save_safetensors(const StateDict& state, const std::string& path,
                      const std::map<std::string, std::string>& metadata, FloatFormat floats) {
  const Encoded encoded(state, metadata, floats);  // may throw: nothing written yet
  TempFile file(path);
  encoded.emit([&](const void* p, size_t n) { file.write(p, n); });
  file.commit();
}

std::string save_safetensors_to_bytes(const StateDict& state, const std::map<std::string, std::string>& metadata,
                                      FloatFormat floats) {
  const Encoded encoded(state, metadata, floats);
  std::string bytes;
  encoded.emit([&](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); });
  return bytes;
}

StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const safetensors::LoadFailure fail{path};
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(msg("cannot open: ", std::strerror(errno)));
  // A directory or a pipe opens too, but has no size to check the header against.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("not a regular file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail("cannot determine the file size");
  return read_safetensors(
      static_cast<uint64_t>(size),
      [&](uint64_t offset, void* dst, uint64_t n) {
        in.clear();  // a short read sets eof; the next seek must still work
        in.seekg(static_cast<std::streamoff>(offset));
        in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
        return static_cast<uint64_t>(in.gcount());
      },
      fail, metadata);
}

StateDict load_safetensors_from_bytes(std::string_view bytes, std::map<std::string, std::string>* metadata,
                                      const std::string& name) {
  return read_safetensors(
      bytes.size(),
      [&](uint64_t offset, void* dst, uint64_t n) {
        const uint64_t available = offset < bytes.size() ? std::min<uint64_t>(n, bytes.size() - offset) : 0;
        if (available > 0) std::memcpy(dst, bytes.data() + offset, available);
        return available;
      },
      safetensors::LoadFailure{name}, metadata);
}

void save(const nn::Module& module, const std::string& path) {
  save_safetensors(module.state_dict(), path);
}

void load(nn::Module& module, const std::string& path, bool strict) {
  module.load_state_dict(load_safetensors(path), strict);
}

}  // namespace heed
