// Printing. Every expected string below is what PyTorch 1.13 prints for the same
// tensor (repr(t), with "torch.float64" written "float64", "torch.int64" written
// "int64", and PyTorch's TanhBackward0 written as heed's node name, tanh).
#include <cmath>
#include <sstream>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {
const double kNan = std::nan("");
const double kInf = INFINITY;
}  // namespace

TEST_CASE("print: fixed, integral and int64 formats") {
  CHECK(to_string(Tensor({{0.1235, -1.2}, {3., 4.}})) ==
        "tensor([[ 0.1235, -1.2000],\n"
        "        [ 3.0000,  4.0000]])");
  CHECK(to_string(Tensor({1., 2., 3.})) == "tensor([1., 2., 3.])");
  CHECK(to_string(Tensor({{-10, 2}, {3, 400}}, kInt64)) ==
        "tensor([[-10,   2],\n"
        "        [  3, 400]])");
  CHECK(to_string(Tensor({0., 0.5, -0.25})) == "tensor([ 0.0000,  0.5000, -0.2500])");
  CHECK(to_string(Tensor({100., 0.5})) == "tensor([100.0000,   0.5000])");
  CHECK(to_string(Tensor({-0., 1.})) == "tensor([-0., 1.])");
  CHECK(to_string(Tensor::zeros({2, 2})) ==
        "tensor([[0., 0.],\n"
        "        [0., 0.]])");
  CHECK(to_string(Tensor::arange(7.) * 0.5) ==
        "tensor([0.0000, 0.5000, 1.0000, 1.5000, 2.0000, 2.5000, 3.0000])");
}

TEST_CASE("print: scientific notation") {
  CHECK(to_string(Tensor({1e-5, 1e5})) == "tensor([1.0000e-05, 1.0000e+05])");  // spread > 1000
  CHECK(to_string(Tensor({0.00001234, 0.5})) == "tensor([1.2340e-05, 5.0000e-01])");  // < 1e-4
  CHECK(to_string(Tensor({1., 1e9})) == "tensor([1.0000e+00, 1.0000e+09])");  // > 1e8, integral
  CHECK(to_string(Tensor({{1e-3, 1.5}})) == "tensor([[1.0000e-03, 1.5000e+00]])");
  CHECK(to_string(Tensor({1000.5, 1.})) == "tensor([1.0005e+03, 1.0000e+00])");
  CHECK(to_string(Tensor({123456., -7.})) == "tensor([ 1.2346e+05, -7.0000e+00])");
  CHECK(to_string(Tensor({{-1.5e-7, 2.0}, {3e3, -4e10}})) ==
        "tensor([[-1.5000e-07,  2.0000e+00],\n"
        "        [ 3.0000e+03, -4.0000e+10]])");
}

TEST_CASE("print: nan and inf") {
  CHECK(to_string(Tensor({kNan, kInf, -kInf, 1.5})) == "tensor([   nan,    inf,   -inf, 1.5000])");
  CHECK(to_string(Tensor({kNan, 2., -kInf})) == "tensor([nan, 2., -inf])");
  CHECK(to_string(Tensor({0., kNan})) == "tensor([0., nan])");
  // A nan with its sign bit set still prints as nan (C's printf would say -nan).
  CHECK(to_string(Tensor({-kNan})) == "tensor([nan])");
}

TEST_CASE("print: 0-d and empty tensors") {
  CHECK(to_string(Tensor::scalar(3.14159)) == "tensor(3.1416)");
  CHECK(to_string(Tensor::scalar(7, kInt64)) == "tensor(7)");
  CHECK(to_string(Tensor::scalar(2.5, kFloat64)) == "tensor(2.5000, dtype=float64)");
  CHECK(to_string(Tensor::zeros({0})) == "tensor([])");
  CHECK(to_string(Tensor::zeros({0, 3})) == "tensor([], size=(0, 3))");
  CHECK(to_string(Tensor::zeros({0}, kInt64)) == "tensor([], dtype=int64)");
  CHECK(to_string(Tensor::zeros({2, 0, 3}, kFloat64)) == "tensor([], size=(2, 0, 3), dtype=float64)");
  CHECK(to_string(Tensor()) == "tensor(undefined)");
}

TEST_CASE("print: 3-D and non-contiguous tensors show their logical values") {
  CHECK(to_string(Tensor::arange(8.).reshape({2, 2, 2})) ==
        "tensor([[[0., 1.],\n"
        "         [2., 3.]],\n"
        "\n"
        "        [[4., 5.],\n"
        "         [6., 7.]]])");
  CHECK(to_string(Tensor::arange(6.).reshape({2, 3}).t()) ==
        "tensor([[0., 3.],\n"
        "        [1., 4.],\n"
        "        [2., 5.]])");
  CHECK(to_string(Tensor::arange(10.).slice(0, 2, 10, 3)) == "tensor([2., 5., 8.])");
  CHECK(to_string(Tensor({1., 2.}).expand({2, 2})) ==
        "tensor([[1., 2.],\n"
        "        [1., 2.]])");
}

TEST_CASE("print: long rows wrap at 80 columns") {
  CHECK(to_string(Tensor::arange(30., kFloat64) / 7.0) ==
        "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
        "        3.8571, 4.0000, 4.1429], dtype=float64)");
  CHECK(to_string(Tensor::arange(0, 40000, 1000, kInt64)) ==
        "tensor([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,\n"
        "        10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000,\n"
        "        20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000,\n"
        "        30000, 31000, 32000, 33000, 34000, 35000, 36000, 37000, 38000, 39000])");
}

TEST_CASE("print: more than 1000 elements are summarized with ...") {
  CHECK(to_string(Tensor::arange(2000.)) ==
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])");
  CHECK(to_string(Tensor::arange(1200.).reshape({40, 30})) ==
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 2.7000e+01, 2.8000e+01,\n"
        "         2.9000e+01],\n"
        "        [3.0000e+01, 3.1000e+01, 3.2000e+01,  ..., 5.7000e+01, 5.8000e+01,\n"
        "         5.9000e+01],\n"
        "        [6.0000e+01, 6.1000e+01, 6.2000e+01,  ..., 8.7000e+01, 8.8000e+01,\n"
        "         8.9000e+01],\n"
        "        ...,\n"
        "        [1.1100e+03, 1.1110e+03, 1.1120e+03,  ..., 1.1370e+03, 1.1380e+03,\n"
        "         1.1390e+03],\n"
        "        [1.1400e+03, 1.1410e+03, 1.1420e+03,  ..., 1.1670e+03, 1.1680e+03,\n"
        "         1.1690e+03],\n"
        "        [1.1700e+03, 1.1710e+03, 1.1720e+03,  ..., 1.1970e+03, 1.1980e+03,\n"
        "         1.1990e+03]])");
  // Transposed, so the shown values come from strided memory.
  CHECK(to_string(Tensor::arange(1200, kInt64).reshape({30, 40}).t()) ==
        "tensor([[   0,   40,   80,  ..., 1080, 1120, 1160],\n"
        "        [   1,   41,   81,  ..., 1081, 1121, 1161],\n"
        "        [   2,   42,   82,  ..., 1082, 1122, 1162],\n"
        "        ...,\n"
        "        [  37,   77,  117,  ..., 1117, 1157, 1197],\n"
        "        [  38,   78,  118,  ..., 1118, 1158, 1198],\n"
        "        [  39,   79,  119,  ..., 1119, 1159, 1199]])");
  // 3-D: blocks are separated by a blank line, and so is the "..." between them.
  std::string s = to_string(Tensor::arange(1400, kInt64).reshape({14, 10, 10}));
  CHECK(s.starts_with("tensor([[[   0,    1,    2,  ...,    7,    8,    9],\n"
                      "         [  10,   11,   12,  ...,   17,   18,   19],\n"));
  CHECK(s.find("         [ 290,  291,  292,  ...,  297,  298,  299]],\n"
               "\n"
               "        ...,\n"
               "\n"
               "        [[1100, 1101, 1102,  ..., 1107, 1108, 1109],\n") != std::string::npos);
  CHECK(s.ends_with("         [1390, 1391, 1392,  ..., 1397, 1398, 1399]]])"));
}

TEST_CASE("print: autograd suffixes") {
  CHECK(to_string(Tensor({1., 2.}).requires_grad_()) == "tensor([1., 2.], requires_grad=True)");
  Tensor x = Tensor({{0.5, -1.}, {2., 0.}}, kFloat64).requires_grad_();
  CHECK(to_string(tanh(x)) ==
        "tensor([[ 0.4621, -0.7616],\n"
        "        [ 0.9640,  0.0000]], dtype=float64, grad_fn=<tanh>)");
  CHECK(to_string(tanh(Tensor::scalar(0.5).requires_grad_())) == "tensor(0.4621, grad_fn=<tanh>)");
  // detach() makes a leaf that does not require grad: no suffix.
  CHECK(to_string(tanh(x).detach().slice(0, 0, 1)) ==
        "tensor([[ 0.4621, -0.7616]], dtype=float64)");
  // A suffix that would pass column 80 goes on a new line, under the first bracket.
  CHECK(to_string((Tensor::arange(11., kFloat64) / 3.0).requires_grad_()) ==
        "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
        "        3.0000, 3.3333], dtype=float64, requires_grad=True)");
  CHECK(to_string((Tensor::arange(9., kFloat64) / 3.0).requires_grad_()) ==
        "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n"
        "       dtype=float64, requires_grad=True)");
}

TEST_CASE("print: operator<< writes the same text as to_string") {
  Tensor t({{1.5, 2.}, {3., 4.}});
  std::ostringstream os;
  os << "x = " << t << ";";
  CHECK(os.str() == "x = " + to_string(t) + ";");
}
