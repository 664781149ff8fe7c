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
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "heed/autograd/grad_mode.h"
#include "heed/nn/module.h"

namespace heed {

// Tensor bytes go to disk exactly as they sit in memory, and the format is
// little-endian; a big-endian port would need a byte swap here.
static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; heed writes tensor memory as is");

namespace {

using Json = nlohmann::ordered_json;  // keeps keys in file order, so tensors keep theirs

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // real headers are kilobytes; refuse absurd ones
constexpr const char* kMetadataKey = "__metadata__";

// ---- dtypes ---------------------------------------------------------------

const char* dtype_code(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
  }
  return "?";
}

// ============================================================================
// save
// ============================================================================

// The header for `state`, padded with spaces so that 8 + its length is a
// multiple of 8 (the data then starts 8-byte aligned, as the format recommends).
// `data` receives each tensor as a contiguous tensor, in the same order.
std::string build_header(const StateDict& state, const std::map<std::string, std::string>& metadata,
                         std::vector<Tensor>& data) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [key, t] : state) {
    if (key == kMetadataKey)
      throw ValueError(msg("save_safetensors: a tensor may not be named '", kMetadataKey,
                           "' (the format reserves it for metadata)"));
    if (!t.defined())
      throw ValueError(msg("save_safetensors: the tensor '", key, "' is undefined"));
    // contiguous() turns a strided view into the row-major values it shows;
    // detach() keeps that copy out of any autograd graph.
    Tensor c = t.detach().contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * element_size(c.dtype());
    header[key] = {{"dtype", dtype_code(c.dtype())},
                   {"shape", std::vector<int64_t>(c.shape().begin(), c.shape().end())},
                   {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not valid UTF-8
    throw ValueError(msg("save_safetensors: cannot write the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// A file opened under a fresh random name beside `path`. Unless commit() renames
// it over `path`, the destructor removes it: every error path cleans up.
class TempFile {
 public:
  explicit TempFile(const std::string& path) : target_(path) {
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

// What one header entry says, after checking.
struct Entry {
  std::string key;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // offsets into the data
};

struct Loader {
  std::string path;

  [[noreturn]] void fail(const std::string& why) const {
    throw IOError(msg("load_safetensors: ", path, ": ", why));
  }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    fail(msg("tensor '", key, "': ", why));
  }

  // Parses the header. nlohmann keeps the last of two equal keys silently, so a
  // parser callback watches every key to catch duplicates (two tensors with one
  // name, or one entry with two "dtype"s), and refuses nesting deeper than the
  // format has: a hostile header of a million '[' must not exhaust anything.
  Json parse_header(const std::string& text) const {
    std::set<std::string> top_keys, entry_keys;
    auto watch = [&](int depth, Json::parse_event_t event, Json& value) {
      using E = Json::parse_event_t;
      if ((event == E::object_start || event == E::array_start) && depth >= 3)
        fail("the header nests deeper than the format allows (objects of arrays of numbers)");
      if (event == E::object_start && depth == 1) entry_keys.clear();
      if (event == E::key) {
        const std::string& k = value.get_ref<const std::string&>();
        if (depth == 1 && !top_keys.insert(k).second) fail(msg("the key '", k, "' appears twice in the header"));
        if (depth == 2 && !entry_keys.insert(k).second)
          fail(msg("a field '", k, "' appears twice in one entry of the header"));
      }
      return true;
    };
    Json header;
    try {
      header = Json::parse(text, watch);
    } catch (const nlohmann::json::exception& e) {
      fail(msg("the header is not valid JSON: ", e.what()));
    }
    if (!header.is_object()) fail(msg("the header must be a JSON object, not a ", header.type_name()));
    return header;
  }

  void read_metadata(const Json& meta, std::map<std::string, std::string>* out) const {
    if (!meta.is_object()) fail(msg("'", kMetadataKey, "' must be an object, not a ", meta.type_name()));
    for (const auto& [k, v] : meta.items()) {
      if (!v.is_string())
        fail(msg("'", kMetadataKey, "' value of '", k, "' must be a string, not a ", v.type_name()));
      if (out) (*out)[k] = v.get<std::string>();
    }
  }

  DType parse_dtype(const std::string& key, const Json& field) const {
    if (!field.is_string()) fail(key, msg("\"dtype\" must be a string, not a ", field.type_name()));
    const std::string name = field.get<std::string>();
    if (name == "F32") return kFloat32;
    if (name == "F64") return kFloat64;
    if (name == "I64") return kInt64;
    static const std::set<std::string> known = {"BOOL", "U8",  "I8",  "U16", "I16",     "F16",
                                                "BF16", "U32", "I32", "U64", "F8_E4M3", "F8_E5M2"};
    if (known.count(name))
      fail(key, msg("dtype ", name, " is not supported by heed (F32, F64 and I64 are)"));
    fail(key, msg("unknown dtype \"", name, "\" (heed reads F32, F64 and I64)"));
  }

  // The shape, checked so that numel * element size cannot overflow: each size is
  // an integer >= 0 and the product of the nonzero sizes, in bytes, fits in int64
  // (so later stride arithmetic on the tensor cannot overflow either).
  Shape parse_shape(const std::string& key, const Json& field, DType dtype) const {
    if (!field.is_array()) fail(key, msg("\"shape\" must be an array, not a ", field.type_name()));
    Shape shape;
    uint64_t bytes = element_size(dtype);
    for (const Json& d : field) {
      if (d.is_number_integer() && !d.is_number_unsigned())
        fail(key, msg("shape ", field.dump(), " has a negative size"));
      if (!d.is_number_unsigned()) fail(key, msg("shape ", field.dump(), " must hold integers"));
      const uint64_t size = d.get<uint64_t>();
      if (size != 0 && (__builtin_mul_overflow(bytes, size, &bytes) ||
                        bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
        fail(key, msg("shape ", field.dump(), " is too large: its byte count overflows 64 bits"));
      shape.push_back(static_cast<int64_t>(size));
    }
    return shape;
  }

  Entry parse_entry(const std::string& key, const Json& info, uint64_t data_size) const {
    if (!info.is_object()) fail(key, msg("the entry must be an object, not a ", info.type_name()));
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!info.contains(field)) fail(key, msg("the entry has no \"", field, "\""));
    Entry e;
    e.key = key;
    e.dtype = parse_dtype(key, info["dtype"]);
    e.shape = parse_shape(key, info["shape"], e.dtype);
    const Json& off = info["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(key, msg("\"data_offsets\" must be [begin, end], two integers >= 0, not ", off.dump()));
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] has begin > end"));
    if (e.end > data_size)
      fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] ends beyond the data, which has ",
                    data_size, " bytes"));
    // parse_shape proved this product fits.
    const uint64_t expected = static_cast<uint64_t>(numel(e.shape)) * element_size(e.dtype);
    if (e.end - e.begin != expected)
      fail(key, msg("data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
                    " bytes, but shape ", e.shape, " of ", dtype_code(e.dtype), " needs ", expected));
    return e;
  }

  // Sorted by offset, the tensors must tile [0, data_size) exactly.
  void check_layout(std::vector<Entry> entries, uint64_t data_size) const {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    uint64_t covered = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < covered)
        fail(e.key, msg("data_offsets [", e.begin, ", ", e.end, "] overlap tensor '", prev->key,
                        "', which ends at ", covered));
      if (e.begin > covered)
        fail(e.key, msg("data_offsets [", e.begin, ", ", e.end, "] leave a gap of ", e.begin - covered,
                        " bytes after offset ", covered, "; the tensors must cover the data exactly"));
      covered = e.end;
      prev = &e;
    }
    if (covered != data_size)
      fail(msg("the data has ", data_size, " bytes but the tensors cover only ", covered,
               "; the tensors must cover the data exactly"));
  }
};

}  // namespace

void save_safetensors(const StateDict& state, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> data;
  const std::string header = build_header(state, metadata, data);  // may throw: nothing written yet
  TempFile file(path);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  file.write(length, sizeof length);
  file.write(header.data(), header.size());
  for (const Tensor& t : data)
    file.write(t.raw_data_ptr(), static_cast<size_t>(t.numel()) * element_size(t.dtype()));
  file.commit();
}

StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  Loader loader{path};
  std::ifstream in(path, std::ios::binary);
  if (!in) loader.fail(msg("cannot open: ", std::strerror(errno)));
  // A directory or a pipe opens too, but has no size to check the header against.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) loader.fail("not a regular file");
  in.seekg(0, std::ios::end);
  const std::streamoff file_size_signed = in.tellg();
  if (file_size_signed < 0) loader.fail("cannot determine the file size");
  const uint64_t file_size = static_cast<uint64_t>(file_size_signed);
  if (file_size < 8)
    loader.fail(msg("the file has ", file_size, " bytes; it needs at least 8 (the header length)"));

  // The header length, then the header, each checked against the file size first.
  in.seekg(0);
  uint8_t length[8] = {};
  in.read(reinterpret_cast<char*>(length), 8);
  if (in.gcount() != 8) loader.fail("cannot read the header length (did the file change during the load?)");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{length[i]} << (8 * i);
  if (header_size > kMaxHeaderBytes)
    loader.fail(msg("the header length (", header_size, " bytes) is over the ", kMaxHeaderBytes,
                    "-byte limit; the file is corrupt or not safetensors"));
  if (header_size > file_size - 8)
    loader.fail(msg("the header length (", header_size, " bytes) runs past the end of the file (",
                    file_size, " bytes)"));
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  if (static_cast<uint64_t>(in.gcount()) != header_size) loader.fail("the file ended inside the header");

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;
  const Json header = loader.parse_header(text);

  std::vector<Entry> entries;
  for (const auto& [key, info] : header.items()) {
    if (key == kMetadataKey) {
      loader.read_metadata(info, metadata);
      continue;
    }
    entries.push_back(loader.parse_entry(key, info, data_size));
  }
  loader.check_layout(entries, data_size);

  // Every size below is now proven to lie inside the file.
  StateDict out;
  for (const Entry& e : entries) {
    Tensor t = make_tensor(e.shape, e.dtype, /*zero_fill=*/false);
    const uint64_t nbytes = e.end - e.begin;
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(t.raw_data_ptr()), static_cast<std::streamsize>(nbytes));
    if (static_cast<uint64_t>(in.gcount()) != nbytes)
      loader.fail(e.key, "the file ended while reading its data (did it change during the load?)");
    out.set(e.key, t);
  }
  return out;
}

void save(const nn::Module& module, const std::string& path) {
  save_safetensors(module.state_dict(), path);
}

void load(nn::Module& module, const std::string& path, bool strict) {
  module.load_state_dict(load_safetensors(path), strict);
}

}  // namespace heed
