"""Minimal safetensors reader/writer for the reference scripts (float32, float64, int64;
and float16 and bfloat16 torch tensors when writing).

The format is tiny: an 8-byte little-endian header length N, N bytes of JSON
mapping each name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
into the data that follows the header), then the data. Written here so the
scripts need only numpy and torch from Debian, not the safetensors package.
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def torch_int16():
    import torch
    return torch.int16


def save(tensors, path, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (insertion order kept)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        if hasattr(t, "dtype") and str(t.dtype) in ("torch.float16", "torch.bfloat16"):
            # numpy has no bfloat16: write torch's own 16-bit patterns as they are.
            code = "F16" if str(t.dtype) == "torch.float16" else "BF16"
            data = t.detach().contiguous().view(-1).view(torch_int16()).numpy().astype("<i2").tobytes()
            header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
            blobs.append(data)
            offset += len(data)
            continue
        a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
        a = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes 0-d arrays 1-d
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns dict name -> numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def load_metadata(path):
    """Returns the header's "__metadata__" dict (empty if there is none)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})
