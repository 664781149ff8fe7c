// safetensors checkpoints: round trips, files from PyTorch (tests/reference/checkpoint.py),
// atomic saves, and a corrupt file for every rule the loader checks.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "heed/nn/linear.h"
#include "heed/nn/serialize.h"
#include "helpers.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
namespace fs = std::filesystem;

namespace {

// A fresh empty directory under the system temp dir, removed when the test ends.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("heed_serialize_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The little-endian 8-byte header length, as the format stores it.
std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}
uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<uint8_t>(file[i])} << (8 * i);
  return n;
}

// Same names in the same order, same dtypes, shapes and bit-identical values.
void check_same_state(const StateDict& got, const StateDict& want) {
  REQUIRE(got.keys() == want.keys());
  for (const auto& item : want) {
    const std::string& key = item.first;  // not a structured binding: INFO's lambda uses it
    const Tensor& w = item.second;
    INFO("key " << key);
    const Tensor& g = got.at(key);
    CHECK(g.dtype() == w.dtype());
    CHECK(g.shape() == w.shape());
    if (w.dtype() == kInt64)
      CHECK(g.to_vector<int64_t>() == w.to_vector<int64_t>());
    else
      CHECK(g.to_vector<double>() == w.to_vector<double>());
  }
}

// A state dict with every dtype and the awkward shapes: 0-d, empty, strided views.
StateDict every_kind() {
  manual_seed(7);
  StateDict s;
  s.set("f32", Tensor::randn({2, 3}));
  s.set("f64", Tensor::randn({4}, kFloat64));
  s.set("i64", Tensor::from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0, 42,
                                                          std::numeric_limits<int64_t>::max()},
                                   {5}));
  s.set("scalar_f32", Tensor::scalar(3.25));
  s.set("scalar_i64", Tensor::scalar(-9, kInt64));
  s.set("empty_f32", Tensor::zeros({0}));
  s.set("empty_f64", Tensor::zeros({2, 0, 3}, kFloat64));
  Tensor base = Tensor::randn({3, 4});
  s.set("transposed", base.t());                   // strides [1, 4]
  s.set("sliced", base.slice(1, 1, 4, 2));         // every other column from 1: offset and strides
  s.set("z.last", Tensor::ones({1, 1, 1}, kFloat64));  // names keep insertion order, not sorted order
  return s;
}

// A small good file to corrupt: two F32 tensors, a = [1, 2] then b = [[3], [4], [5]].
std::string good_file(const TempDir& dir) {
  StateDict s;
  s.set("a", Tensor({1.0, 2.0}));
  s.set("b", Tensor({{3.0}, {4.0}, {5.0}}));
  std::string path = dir / "good.safetensors";
  save_safetensors(s, path);
  return read_bytes(path);
}

// The good file with its header text edited (`from` replaced by `to`) and the
// header length fixed up, so only the edited rule is broken.
std::string edit_header(const std::string& file, const std::string& from, const std::string& to) {
  const uint64_t n = header_length(file);
  std::string header = file.substr(8, n);
  size_t at = header.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "the header has no '" << from << "': " << header);
  header.replace(at, from.size(), to);
  return le64(header.size()) + header + file.substr(8 + n);
}

// A file from a header text and data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// y = fc2(tanh(fc1(x))), with buffers of every dtype: the model of checkpoint.py.
struct Net : nn::Module {
  Net()
      : steps(register_buffer("steps", Tensor::scalar(0, kInt64))),
        scale(register_buffer("scale", Tensor::zeros({2}, kFloat64))),
        empty(register_buffer("empty", Tensor::zeros({0, 3}))),
        fc1(register_module("fc1", std::make_shared<nn::Linear>(4, 5))),
        fc2(register_module("fc2", std::make_shared<nn::Linear>(5, 3))) {}
  Tensor forward(const Tensor& x) const { return (*fc2)(tanh((*fc1)(x))); }
  Tensor operator()(const Tensor& x) const { return forward(x); }
  Tensor steps, scale, empty;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-d, empty and strided tensors") {
  TempDir dir;
  StateDict s = every_kind();
  std::map<std::string, std::string> meta = {{"epoch", "3"}, {"note", "ünïcode ok"}};
  save_safetensors(s, dir / "all.safetensors", meta);

  std::map<std::string, std::string> meta_back;
  StateDict back = load_safetensors(dir / "all.safetensors", &meta_back);
  check_same_state(back, s);
  CHECK(meta_back == meta);
  CHECK(back.at("transposed").is_contiguous());

  SUBCASE("the data starts 8-byte aligned and the file has nothing else") {
    std::string bytes = read_bytes(dir / "all.safetensors");
    CHECK((8 + header_length(bytes)) % 8 == 0);
    int64_t data = 0;
    for (const auto& [k, t] : s) data += t.numel() * static_cast<int64_t>(element_size(t.dtype()));
    CHECK(static_cast<int64_t>(bytes.size()) == 8 + static_cast<int64_t>(header_length(bytes)) + data);
  }
  SUBCASE("in memory: the same bytes as the file, and back") {
    const std::string bytes = save_safetensors_to_bytes(s, meta);
    CHECK(bytes == read_bytes(dir / "all.safetensors"));
    std::map<std::string, std::string> meta_mem;
    check_same_state(load_safetensors_from_bytes(bytes, &meta_mem), s);
    CHECK(meta_mem == meta);
    CHECK_THROWS_CONTAINING(load_safetensors_from_bytes(bytes.substr(0, 20), nullptr, "upload #3"),
                            "load_safetensors: upload #3: the header length", IOError);
  }
  SUBCASE("an empty state dict round-trips too") {
    save_safetensors(StateDict{}, dir / "none.safetensors");
    CHECK(load_safetensors(dir / "none.safetensors").empty());
  }
  SUBCASE("saving over an existing file replaces it") {
    StateDict one;
    one.set("only", Tensor({5.0}));
    save_safetensors(one, dir / "all.safetensors");
    check_same_state(load_safetensors(dir / "all.safetensors"), one);
  }
  SUBCASE("no temporary files are left behind") {
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
      INFO(e.path());
      ++files;
    }
    CHECK(files == 1);
  }
}

TEST_CASE("safetensors: save errors") {
  TempDir dir;
  StateDict s;
  s.set("undefined", Tensor());
  CHECK_THROWS_CONTAINING(save_safetensors(s, dir / "x.safetensors"), "'undefined' is undefined", ValueError);
  StateDict reserved;
  reserved.set("__metadata__", Tensor({1.0}));
  CHECK_THROWS_CONTAINING(save_safetensors(reserved, dir / "x.safetensors"), "reserves it for metadata",
                          ValueError);
  StateDict ok;
  ok.set("a", Tensor({1.0}));
  CHECK_THROWS_CONTAINING(save_safetensors(ok, dir / "no/such/dir/x.safetensors"), "cannot create",
                          IOError);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("safetensors: save is atomic") {
  TempDir dir;
  StateDict big;
  big.set("w", Tensor::randn({64, 64}));  // 16 KB of data

  SUBCASE("rename onto a directory fails: the directory is untouched, no temp file is left") {
    fs::create_directories(dir.path / "target.safetensors" / "inside");
    CHECK_THROWS_CONTAINING(save_safetensors(big, dir / "target.safetensors"), "cannot rename", IOError);
    CHECK(fs::is_directory(dir.path / "target.safetensors" / "inside"));
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
      INFO(e.path());
      ++entries;
    }
    CHECK(entries == 1);
  }
  SUBCASE("a write that fails midway (file size limit) leaves the old file intact") {
    StateDict small;
    small.set("old", Tensor({1.0, 2.0}));
    save_safetensors(small, dir / "ckpt.safetensors");
    const std::string before = read_bytes(dir / "ckpt.safetensors");

    // Limit files this process writes to 4 KB: the 16 KB save fails inside write()
    // with EFBIG (SIGXFSZ ignored so it is an error, not a kill). Works as root too.
    rlimit old_limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_limit;
    limit.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &limit);
    bool threw = false;
    std::string what;
    try {
      save_safetensors(big, dir / "ckpt.safetensors");
    } catch (const IOError& e) {
      threw = true;
      what = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);

    CHECK(threw);
    CHECK(what.find("cannot write") != std::string::npos);
    CHECK(read_bytes(dir / "ckpt.safetensors") == before);
    check_same_state(load_safetensors(dir / "ckpt.safetensors"), small);
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
      INFO(e.path());
      ++entries;
    }
    CHECK(entries == 1);  // the temp file was removed
  }
}

TEST_CASE("safetensors: a save removes the temporary files that killed saves left behind") {
  // A save writes "<path>.tmp-XXXXXXXX", flocked while its writer lives. A kill
  // leaves the file behind; the next save to the same path removes every such
  // file whose lock it can take (an empty one only once it is 10 s old), and
  // nothing else.
  TempDir dir;
  const std::string path = dir / "ckpt.safetensors";
  auto make = [&](const std::string& name, const std::string& bytes, bool old) {
    const std::string p = dir / name;
    write_bytes(p, bytes);
    if (old) fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1));
    return p;
  };
  const std::string abandoned = make("ckpt.safetensors.tmp-0badf00d", "partial", false);
  const std::string abandoned_empty = make("ckpt.safetensors.tmp-0e0e0e0e", "", true);
  const std::string live = make("ckpt.safetensors.tmp-11ee11ee", "partial", true);
  const std::string young = make("ckpt.safetensors.tmp-22222222", "", false);
  const std::string other = make("other.safetensors.tmp-33333333", "partial", true);
  const std::string unlike = make("ckpt.safetensors.tmp-123", "partial", true);
  const int writer = ::open(live.c_str(), O_RDONLY);  // a save still writing this one
  REQUIRE(writer >= 0);
  REQUIRE(::flock(writer, LOCK_EX) == 0);

  StateDict s;
  s.set("a", Tensor({1.0, 2.0}));
  save_safetensors(s, path);
  ::close(writer);
  CHECK_FALSE(fs::exists(abandoned));
  CHECK_FALSE(fs::exists(abandoned_empty));
  CHECK(fs::exists(live));    // its writer holds the lock
  CHECK(fs::exists(young));   // empty and new: may be a writer between open() and flock()
  CHECK(fs::exists(other));   // another checkpoint's
  CHECK(fs::exists(unlike));  // not a name save makes
  check_values(load_safetensors(path).at("a"), {1, 2});
}

TEST_CASE("safetensors: a header of many tensors saves and loads in time linear in its length") {
  // The header was once parsed into an order-keeping JSON object, which searches
  // the keys so far for every new key: 80,000 tensors took over a minute to load.
  // 200,000 (a 12 MB header) take seconds even in the sanitizer build; the
  // quadratic parse would take many minutes, so the bound below has a wide margin.
  TempDir dir;
  constexpr int kCount = 200'000;
  StateDict many;
  for (int i = 0; i < kCount; ++i) many.set("t" + std::to_string(i), Tensor::zeros({0, 2}));
  const auto start = std::chrono::steady_clock::now();
  save_safetensors(many, dir / "many.safetensors");
  const StateDict back = load_safetensors(dir / "many.safetensors");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("save and load took ", seconds, " s");
  CHECK(seconds < 60);
  REQUIRE(back.size() == static_cast<size_t>(kCount));
  CHECK(back.keys()[123'456] == "t123456");  // the header's order, kept
  CHECK(back.at("t199999").shape() == Shape{0, 2});
}

TEST_CASE("safetensors: corrupt and hostile files raise IOError naming the rule") {
  TempDir dir;
  const std::string good = good_file(dir);
  const std::string path = dir / "bad.safetensors";
  // Sanity: the good file is what the edits below assume.
  REQUIRE(good.substr(8, header_length(good)).find(R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})") !=
          std::string::npos);
  REQUIRE(good.substr(8, header_length(good)).find(R"("data_offsets":[8,20])") != std::string::npos);
  // Each file is loaded from disk and from memory: the same rule must refuse it
  // with the same words (the memory load given the path as its name).
  auto load_bad = [&](const std::string& bytes) {
    std::string memory_error = "(none)";
    try {
      load_safetensors_from_bytes(bytes, nullptr, path);
    } catch (const IOError& e) {
      memory_error = e.what();
    }
    write_bytes(path, bytes);
    try {
      return load_safetensors(path);
    } catch (const IOError& e) {
      CHECK(memory_error == e.what());
      throw;
    }
  };
  const uint64_t n = header_length(good);

  SUBCASE("missing file, or not a file") {
    CHECK_THROWS_CONTAINING(load_safetensors(dir / "nope.safetensors"), "cannot open", IOError);
    CHECK_THROWS_CONTAINING(load_safetensors(dir.path.string()), "not a regular file", IOError);
  }
  SUBCASE("shorter than 8 bytes") {
    CHECK_THROWS_CONTAINING(load_bad(""), "needs at least 8", IOError);
    CHECK_THROWS_CONTAINING(load_bad(good.substr(0, 5)), "needs at least 8", IOError);
  }
  SUBCASE("truncated inside the header") {
    CHECK_THROWS_CONTAINING(load_bad(good.substr(0, 8)), "runs past the end of the file", IOError);
    CHECK_THROWS_CONTAINING(load_bad(good.substr(0, 8 + n / 2)), "runs past the end of the file", IOError);
  }
  SUBCASE("truncated inside the data") {
    CHECK_THROWS_CONTAINING(load_bad(good.substr(0, good.size() - 1)), "tensor 'b': data_offsets [8, 20] ends beyond",
                            IOError);
    CHECK_THROWS_CONTAINING(load_bad(good.substr(0, 8 + n + 3)), "tensor 'a': data_offsets [0, 8] ends beyond",
                            IOError);
  }
  SUBCASE("absurd header length") {
    CHECK_THROWS_CONTAINING(load_bad(le64(uint64_t{1} << 63) + good.substr(8)), "limit", IOError);
    CHECK_THROWS_CONTAINING(load_bad(le64(~uint64_t{0}) + good.substr(8)), "limit", IOError);
    CHECK_THROWS_CONTAINING(load_bad(le64(n + 1000) + good.substr(8)), "runs past the end", IOError);
  }
  SUBCASE("header length too short cuts the JSON") {
    CHECK_THROWS_CONTAINING(load_bad(le64(n - 10) + good.substr(8)), "not valid JSON", IOError);
  }
  SUBCASE("bad JSON") {
    std::string bytes = good;
    bytes[8] = 'x';  // the opening '{'
    CHECK_THROWS_CONTAINING(load_bad(bytes), "not valid JSON", IOError);
    CHECK_THROWS_CONTAINING(load_bad(make_file("[1, 2]  ", "")), "must be a JSON object", IOError);
    CHECK_THROWS_CONTAINING(load_bad(make_file("{\"a\xff\":1}", "")), "not valid JSON", IOError);  // not UTF-8
  }
  SUBCASE("hostile nesting") {
    std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK_THROWS_CONTAINING(load_bad(make_file(deep, "")), "nests deeper", IOError);
  }
  SUBCASE("entries that are not objects, or lack a field") {
    CHECK_THROWS_CONTAINING(load_bad(make_file(R"({"a": 3})", "")), "tensor 'a': the entry must be an object",
                            IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2],)", "")), "tensor 'a': the entry has no \"shape\"",
                            IOError);
  }
  SUBCASE("unknown and unsupported dtypes") {
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("F32","shape":[2])", R"("F17","shape":[2])")),
                            "tensor 'a': unknown dtype \"F17\"", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("F32","shape":[2])", R"("I32","shape":[2])")),
                            "tensor 'a': dtype I32 is not supported by heed (F32, F64, I64, F16 and BF16 are)", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("F32","shape":[2])", R"(32,"shape":[2])")),
                            "tensor 'a': \"dtype\" must be a string", IOError);
  }
  SUBCASE("bad shapes") {
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[-2])")),
                            "tensor 'a': shape [-2] has a negative size", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[2.5])")),
                            "must hold integers", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":2)")),
                            "\"shape\" must be an array", IOError);
    // The size rule every tensor obeys (core/shape.h), with the file and the key named:
    // 2^31 * 2^31 elements is over 2^50, though each size is modest.
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[2147483648,2147483648])")),
                            (path + ": tensor 'a': shape [2147483648,2147483648] has more than 2^50 elements").c_str(),
                            IOError);
    // A zero size does not excuse a huge one elsewhere: the strides would still overflow.
    CHECK_THROWS_CONTAINING(
        load_bad(edit_header(good, R"("shape":[2])", R"("shape":[0,4611686018427387904,4])")),
        "tensor 'a': shape [0,4611686018427387904,4] has more than 2^50 elements", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[1152921504606846976,0])")),
                            "tensor 'a': shape [1152921504606846976,0] has more than 2^50 elements", IOError);
    // A size over int64's range is refused by the same rule, not wrapped to a negative one.
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[0,18446744073709551615])")),
                            "has more than 2^50 elements", IOError);
  }
  SUBCASE("a shape of more dims than a tensor has is refused, without storing them") {
    std::string many = R"("shape":[2)";
    for (int i = 0; i < 1'000'000; ++i) many += ",1";  // 2 MB of header
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", many + "]")),
                            "has 1000001 dims; a heed tensor has at most 64", IOError);
    std::string most = R"("shape":[2)";
    for (int i = 0; i < 63; ++i) most += ",1";
    CHECK(load_bad(edit_header(good, R"("shape":[2])", most + "]")).at("a").dim() == 64);
  }
  SUBCASE("bad data_offsets") {
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, "[0,8]", "[8,0]")),
                            "tensor 'a': data_offsets [8, 0] has begin > end", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, "[0,8]", "[0,8,9]")), "must be [begin, end]", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, "[0,8]", "[-1,8]")), "must be [begin, end]", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, "[8,20]", "[8,2000]")),
                            "tensor 'b': data_offsets [8, 2000] ends beyond the data, which has 20 bytes", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, "[8,20]", "[8,18446744073709551615]")), "ends beyond",
                            IOError);
  }
  SUBCASE("size does not match the shape") {
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2])", R"("shape":[3])")),
                            "tensor 'a': data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("F32","shape":[2])", R"("F64","shape":[2])")),
                            "needs 16", IOError);
  }
  SUBCASE("overlapping tensors") {
    // b claims [4, 16): its first 4 bytes are a's last 4.
    std::string bytes = edit_header(good, R"("shape":[3,1],"data_offsets":[8,20])",
                                    R"("shape":[3,1],"data_offsets":[4,16])");
    CHECK_THROWS_CONTAINING(load_bad(bytes), "tensor 'b': data_offsets [4, 16] overlap tensor 'a'", IOError);
    // Two names over the same bytes overlap too.
    CHECK_THROWS_CONTAINING(load_bad(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                               std::string(4, '\0'))),
                            "overlap", IOError);
  }
  SUBCASE("gaps and trailing bytes") {
    std::string gap = edit_header(good, R"("shape":[3,1],"data_offsets":[8,20])",
                                  R"("shape":[2,1],"data_offsets":[12,20])");
    CHECK_THROWS_CONTAINING(load_bad(gap), "tensor 'b': data_offsets [12, 20] leave a gap of 4 bytes", IOError);
    CHECK_THROWS_CONTAINING(load_bad(good + "junk"), "the data has 24 bytes but the tensors cover only 20",
                            IOError);
  }
  SUBCASE("duplicate keys") {
    std::string dup = edit_header(good, R"("b":)", R"("a":)");
    CHECK_THROWS_CONTAINING(load_bad(dup), "the key 'a' appears twice", IOError);
    CHECK_THROWS_CONTAINING(load_bad(edit_header(good, R"("shape":[2],)", R"("shape":[2],"shape":[2],)")),
                            "a field 'shape' appears twice", IOError);
  }
  SUBCASE("metadata must map strings to strings") {
    CHECK_THROWS_CONTAINING(load_bad(make_file(R"({"__metadata__":{"epoch":3}})", "")),
                            "value of 'epoch' must be a string", IOError);
    CHECK_THROWS_CONTAINING(load_bad(make_file(R"({"__metadata__":"x"})", "")), "must be an object", IOError);
  }
  SUBCASE("the unmodified file loads") {
    StateDict s = load_bad(good);
    check_values(s.at("b"), {3, 4, 5});
    CHECK(s.at("b").shape() == Shape{3, 1});
  }
}

TEST_CASE("checkpoint: a PyTorch state dict loads and gives the same outputs") {
  // tests/reference/checkpoint.py wrote these with PyTorch 1.13.
  std::map<std::string, std::string> meta;
  StateDict state = load_safetensors(fixture_path("checkpoint.safetensors"), &meta);
  CHECK(meta.at("source") == "tests/reference/checkpoint.py");
  Net net;
  CHECK(state.keys() == net.state_dict().keys());  // PyTorch's order: own buffers, then children
  load(net, fixture_path("checkpoint.safetensors"));
  CHECK(net.steps.dim() == 0);
  CHECK(net.steps.item() == 7);
  CHECK(net.scale.to_vector<double>() == std::vector<double>{0.5, 2.0});
  CHECK(net.empty.shape() == Shape{0, 3});

  StateDict io = load_safetensors(fixture_path("checkpoint_io.safetensors"));
  Tensor y = net(io.at("x"));
  check_values(y, io.at("y").to_vector<double>(), 1e-5);
}

TEST_CASE("checkpoint: a heed-written file loads in PyTorch") {
  // Leaves heed_checkpoint{,_io}.safetensors in the temp dir for
  // `/usr/bin/python3 tests/reference/checkpoint.py`, which loads them into the
  // PyTorch model and compares its output with heed's.
  Net net;
  load(net, fixture_path("checkpoint.safetensors"));
  {
    NoGradGuard no_grad;
    net.fc2->bias.add_(Tensor({1.0, -1.0, 0.5}));  // so the file differs from the fixture
    net.steps.fill_(8);
  }
  const std::string path = (fs::temp_directory_path() / "heed_checkpoint.safetensors").string();
  save_safetensors(net.state_dict(), path, {{"writer", "heed"}});
  StateDict io;
  io.set("x", Tensor::randn({3, 4}));
  io.set("y", net(io.at("x")).detach());
  save_safetensors(io, (fs::temp_directory_path() / "heed_checkpoint_io.safetensors").string());

  Net other;
  load(other, path);
  check_same_state(other.state_dict(), net.state_dict());
}

TEST_CASE("checkpoint: save and load a module") {
  TempDir dir;
  Net a, b;
  save(a, dir / "net.safetensors");
  load(b, dir / "net.safetensors");
  check_same_state(b.state_dict(), a.state_dict());

  SUBCASE("strict load names a missing key") {
    nn::Linear lin(4, 5);
    save(lin, dir / "lin.safetensors");
    CHECK_THROWS_CONTAINING(load(b, dir / "lin.safetensors"), "missing key 'steps'", ValueError);
    StateDict extra = lin.state_dict();
    extra.set("extra", Tensor({1.0}));
    save_safetensors(extra, dir / "extra.safetensors");
    CHECK_THROWS_CONTAINING(load(lin, dir / "extra.safetensors"), "unexpected key 'extra'", ValueError);
    load(lin, dir / "extra.safetensors", /*strict=*/false);
  }
  SUBCASE("a file with the wrong shapes is refused and changes nothing") {
    nn::Linear lin(4, 5), wrong(3, 5);
    Tensor before = lin.weight.clone();
    save(wrong, dir / "wrong.safetensors");
    CHECK_THROWS_CONTAINING(load(lin, dir / "wrong.safetensors"), "'weight' has shape [5, 3]", ShapeError);
    CHECK(lin.weight.to_vector<double>() == before.to_vector<double>());
  }
  SUBCASE("a float with no int64 value for an int64 buffer is refused and changes nothing") {
    // An int64 buffer after a layer: a file may hold it as a float, and NaN has no
    // int64 value (C++ leaves the conversion undefined). The check comes before
    // any copy, so the layer, which comes first, keeps its weights.
    struct Counted : nn::Module {
      Counted()
          : fc(register_module("fc", std::make_shared<nn::Linear>(2, 2))),
            count(register_buffer("count", Tensor::scalar(0, kInt64))) {}
      std::shared_ptr<nn::Linear> fc;
      Tensor count;
    };
    Counted model;
    const std::vector<double> before = model.fc->weight.to_vector<double>();
    StateDict s = Counted().state_dict();  // other weights, so a copy would show
    s.set("count", Tensor::scalar(std::nan("")));
    CHECK_THROWS_CONTAINING(model.load_state_dict(s), "load_state_dict: 'count': copy to int64: nan has no int64 value",
                            ValueError);
    CHECK(model.fc->weight.to_vector<double>() == before);
    s.set("count", Tensor::scalar(3.0));  // a float that has one loads
    model.load_state_dict(s);
    CHECK(model.count.item() == 3);
  }
}
