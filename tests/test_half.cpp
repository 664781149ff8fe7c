// 16-bit floats: core/half.h's conversions against PyTorch's, and F16 / BF16
// safetensors files both ways. The fixture is written by
// tests/reference/half_floats.py with PyTorch's own .half() and .bfloat16().
#include <bit>
#include <cmath>

#include "helpers.h"
#include "reference_check.h"

using namespace heed;
using heed::test::fixture;

namespace {

const char* kFile = "half_floats.safetensors";

// The bits of each float: NaN compares equal to NaN, and -0 differs from 0.
std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<uint32_t> out;
  for (float v : t.to_vector<float>()) out.push_back(std::bit_cast<uint32_t>(v));
  return out;
}

// got and want bit for bit, except that any NaN matches any NaN: PyTorch's own
// conversions disagree on a NaN's sign and payload (its vectorized float ->
// bfloat16 writes 0xFFFF, its scalar one 0x7FC0). The first few differences are reported.
void check_bits(const Tensor& got, const Tensor& want) {
  const std::vector<uint32_t> g = bits(got), w = bits(want);
  REQUIRE(g.size() == w.size());
  auto is_nan = [](uint32_t b) { return (b & 0x7FFFFFFFu) > 0x7F800000u; };
  int shown = 0;
  for (size_t i = 0; i < g.size() && shown < 5; ++i)
    if (g[i] != w[i] && !(is_nan(g[i]) && is_nan(w[i]))) {
      ++shown;
      FAIL_CHECK("element " << i << ": got " << std::hex << g[i] << ", want " << w[i] << std::dec);
    }
}

// Each element narrowed by `narrow` and widened back by `widen`, in float32.
Tensor round_trip(const Tensor& t, uint16_t (*narrow)(float), float (*widen)(uint16_t)) {
  std::vector<float> v = t.to_vector<float>();
  for (float& x : v) x = widen(narrow(x));
  return Tensor::from_vector(v, t.shape());
}

}  // namespace

TEST_CASE("16-bit floats: widening matches PyTorch on every 16th bit pattern and the specials") {
  // The file's F16 / BF16 tensors load as float32: that is heed's widening.
  const Tensor f16 = fixture(kFile, "patterns.f16"), bf16 = fixture(kFile, "patterns.bf16");
  CHECK(f16.dtype() == kFloat32);
  CHECK(f16.numel() > 4000);
  check_bits(f16, fixture(kFile, "patterns.f16.as_f32"));
  check_bits(bf16, fixture(kFile, "patterns.bf16.as_f32"));
}

TEST_CASE("16-bit floats: narrowing rounds as PyTorch does, ties, subnormals, overflow and NaN included") {
  const Tensor values = fixture(kFile, "values");
  CHECK(values.numel() > 3000);
  // values.f16 is torch's values.half(), loaded (widened exactly) into float32.
  check_bits(round_trip(values, float_to_half, half_to_float), fixture(kFile, "values.f16"));
  check_bits(round_trip(values, float_to_bfloat16, bfloat16_to_float), fixture(kFile, "values.bf16"));
  // A few by hand: the largest half, the tie above it, the smallest subnormal's tie.
  CHECK(half_to_float(float_to_half(65504.0f)) == 65504.0f);
  CHECK(std::isinf(half_to_float(float_to_half(65520.0f))));
  CHECK(float_to_half(0x1p-25f) == 0);       // a tie between 0 and 2^-24: to even, 0
  CHECK(float_to_half(0x1.8p-24f) == 2);     // 1.5 * 2^-24: to even, 2 * 2^-24
  CHECK(float_to_bfloat16(1.0f + 0x1p-8f) == 0x3F80);  // a tie: to even
}

TEST_CASE("16-bit floats: checkpoints saved as F16 or BF16 load as float32") {
  const Tensor values = fixture(kFile, "values");
  StateDict s;
  s.set("w", values);
  s.set("d", Tensor({1.0, 2.0}, kFloat64));  // float64 stays float64
  for (FloatFormat format : {FloatFormat::F16, FloatFormat::BF16}) {
    const bool half = format == FloatFormat::F16;
    const std::string bytes = save_safetensors_to_bytes(s, {}, format);
    CHECK(bytes.find(half ? R"("dtype":"F16")" : R"("dtype":"BF16")") != std::string::npos);
    CHECK(bytes.find(R"("dtype":"F64")") != std::string::npos);
    StateDict back = load_safetensors_from_bytes(bytes);
    CHECK(back.at("w").dtype() == kFloat32);
    check_bits(back.at("w"), fixture(kFile, half ? "values.f16" : "values.bf16"));
    CHECK(back.at("d").to_vector<double>() == std::vector<double>{1.0, 2.0});
    CHECK(bytes.size() < save_safetensors_to_bytes(s).size() * 6 / 10);  // about half the bytes
  }
  // Through a file and past the conversion buffer (65536 elements).
  const std::string path = (std::filesystem::temp_directory_path() / "heed_test_bf16.safetensors").string();
  StateDict big;
  big.set("x", Tensor::randn({3, 50000}));
  save_safetensors(big, path, {}, FloatFormat::BF16);
  check_bits(load_safetensors(path).at("x"), round_trip(big.at("x"), float_to_bfloat16, bfloat16_to_float));
  std::filesystem::remove(path);
}
