"""16-bit float fixtures: a safetensors file written with PyTorch's own F16 and
BF16 conversions, for tests/test_serialize.cpp ("16-bit floats").

  fixtures/half_floats.safetensors
    values        F32 [n]   float32 values: rounding ties, subnormals, the edges
                            of each range, inf, NaN, and log-spread random ones
    values.f16    F16 [n]   torch's values.half()
    values.bf16   BF16 [n]  torch's values.bfloat16()
    patterns.f16  F16 [m]   every 16th float16 bit pattern, and the specials
    patterns.f16.as_f32   F32 [m]  torch's patterns.f16.float()
    patterns.bf16 / patterns.bf16.as_f32   the same for bfloat16

Run with Debian's python3 (python3-torch): /usr/bin/python3 tests/reference/half_floats.py
"""
import os

import numpy as np
import torch

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))


def edge_values():
    f = np.float32
    v = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 65536.0, -70000.0, 1e30, 3.0e38,
         float("inf"), float("-inf"), float("nan"),
         2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -25, 2.0 ** -26, 1e-45, 2.0 ** -126,
         1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -20,
         0.1, 0.2, 0.3, 1 / 3, 2 / 3, 3.14159265, 1e-3, 1e-5, 6e-8, 6.1e-5]
    # Exact ties of float16 and of bfloat16 in many binades: odd multiples of half an ulp.
    for e in range(-24, 16, 3):
        v += [(2 * k + 1) * 2.0 ** (e - 11) for k in (0, 1, 511, 1022)]
    for e in range(-120, 120, 17):
        v += [(2 * k + 1) * 2.0 ** (e - 8) for k in (0, 1, 63, 126)]
    return np.array(v, dtype=f)


def main():
    rng = np.random.default_rng(7)
    random = (rng.choice([-1, 1], 3000) * 2.0 ** rng.uniform(-30, 20, 3000)).astype(np.float32)
    values = torch.from_numpy(np.concatenate([edge_values(), random]))
    specials16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFFFF]
    p16 = torch.tensor(sorted(set(list(range(0, 65536, 16)) + specials16)), dtype=torch.int32).to(torch.int16)
    pbf = torch.tensor(sorted(set(list(range(0, 65536, 16)) + [0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x007F, 0x0080])),
                       dtype=torch.int32).to(torch.int16)
    patterns16, patternsbf = p16.view(torch.float16), pbf.view(torch.bfloat16)
    out = {
        "values": values,
        "values.f16": values.half(),
        "values.bf16": values.bfloat16(),
        "patterns.f16": patterns16,
        "patterns.f16.as_f32": patterns16.float(),
        "patterns.bf16": patternsbf,
        "patterns.bf16.as_f32": patternsbf.float(),
    }
    path = os.path.join(HERE, "fixtures", "half_floats.safetensors")
    safetensors_io.save(out, path, {"written_by": f"torch {torch.__version__}"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
