"""Checkpoint fixtures for tests/test_serialize.cpp, and a check of files heed writes.

Run from the repository root with Debian's python (it has PyTorch 1.13):

    /usr/bin/python3 tests/reference/checkpoint.py

1. Writes a small PyTorch model's state_dict to fixtures/checkpoint.safetensors
   (through safetensors_io.save) and an input and the model's output for it to
   fixtures/checkpoint_io.safetensors. The C++ test loads the state dict into the
   same model built in heed and must reproduce the output.
2. If the C++ test "checkpoint: a heed-written file loads in PyTorch" has run, it
   left heed_checkpoint.safetensors and heed_checkpoint_io.safetensors in the
   temp directory ($TMPDIR or /tmp; or pass a directory as the first argument).
   This script then checks that file against the format's rules, loads it into
   the PyTorch model and compares the output with the one heed computed.
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


class Net(torch.nn.Module):
    """y = fc2(tanh(fc1(x))); the buffers exist to carry every dtype and shape kind."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 5)
        self.fc2 = torch.nn.Linear(5, 3)
        self.register_buffer("steps", torch.tensor(7))  # 0-d int64
        self.register_buffer("scale", torch.tensor([0.5, 2.0], dtype=torch.float64))
        self.register_buffer("empty", torch.zeros(0, 3))  # no elements

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def write_fixtures():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(2, 4)
    with torch.no_grad():
        y = net(x)
    safetensors_io.save(net.state_dict(), os.path.join(FIXTURES, "checkpoint.safetensors"),
                        metadata={"source": "tests/reference/checkpoint.py"})
    safetensors_io.save({"x": x, "y": y}, os.path.join(FIXTURES, "checkpoint_io.safetensors"))
    print("wrote fixtures/checkpoint.safetensors, fixtures/checkpoint_io.safetensors")
    print("state_dict order:", list(net.state_dict().keys()))


def read_header(path):
    """The header of a safetensors file, checked the strict way heed's loader checks it."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "data does not start 8-byte aligned"
    header = json.loads(raw[8:8 + n], object_pairs_hook=lambda pairs: dict(pairs))
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    end = 0
    for b, e in spans:
        assert b == end, f"offsets do not tile the data: {spans}"
        end = e
    assert end == len(raw) - 8 - n, "tensors do not cover the data exactly"
    return header


def check_heed_file(directory):
    path = os.path.join(directory, "heed_checkpoint.safetensors")
    io_path = os.path.join(directory, "heed_checkpoint_io.safetensors")
    if not (os.path.exists(path) and os.path.exists(io_path)):
        print(f"no heed-written file in {directory}; run heed_tests -tc='checkpoint*' first to check one")
        return True
    header = read_header(path)
    net = Net()
    names = [k for k in header if k != "__metadata__"]
    assert names == list(net.state_dict().keys()), f"order differs: {names}"
    assert header["__metadata__"] == {"writer": "heed"}, header["__metadata__"]
    state = {k: torch.from_numpy(v) for k, v in safetensors_io.load(path).items()}
    net.load_state_dict(state, strict=True)
    io = safetensors_io.load(io_path)
    with torch.no_grad():
        y = net(torch.from_numpy(io["x"])).numpy()
    err = np.max(np.abs(y - io["y"]) / (np.abs(io["y"]) + 1e-6))
    ok = np.allclose(y, io["y"], rtol=1e-5, atol=1e-6) and int(net.steps) == 8
    print(f"{path}: PyTorch loads it; output max rel err vs heed {err:.2e}; steps={int(net.steps)}:",
          "OK" if ok else "MISMATCH")
    return ok


if __name__ == "__main__":
    write_fixtures()
    ok = check_heed_file(sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir())
    sys.exit(0 if ok else 1)
