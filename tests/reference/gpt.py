"""The byte-level GPT of examples/gpt.cpp, both ways with PyTorch.

    /usr/bin/python3 tests/reference/gpt.py --gpt build/examples/gpt \
        --logits build/examples/gpt_model/gpt_logits --work /tmp/gpt_parity

1. heed -> PyTorch: heed trains a tiny model for a few steps and saves its
   checkpoint; the same model written here in PyTorch loads it (strict: every
   name and shape must match) and gives the logits heed gives, within 1e-4.
2. PyTorch -> heed: a PyTorch model, randomly initialised, is saved as a
   safetensors checkpoint with the config in its metadata; heed loads it and
   gives PyTorch's logits within 1e-4, and the example generates from it.
Exits 1 on any mismatch; ctest runs it when python3 has torch (tests/CMakeLists.txt).
"""
import argparse
import math
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


# ---- the model, as examples/gpt/model.h describes it -----------------------------
class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c["n_head"]
        self.c_attn = nn.Linear(c["n_embd"], 3 * c["n_embd"])
        self.c_proj = nn.Linear(c["n_embd"], c["n_embd"])

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c["n_embd"], 4 * c["n_embd"])
        self.c_proj = nn.Linear(4 * c["n_embd"], c["n_embd"])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["n_embd"])
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c["n_embd"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["block_size"], c["n_embd"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"])

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied output projection


KEYS = ["vocab_size", "block_size", "n_layer", "n_head", "n_embd"]
TEXT = "Attention is a weighted average; heed computes it."


def config_of(path):
    meta = safetensors_io.load_metadata(path)
    return {k: int(meta["gpt." + k]) for k in KEYS}


def torch_logits(model, text):
    ids = torch.tensor([list(text.encode())])
    with torch.no_grad():
        return model(ids)


def heed_logits(args, checkpoint, name):
    out = os.path.join(args.work, name)
    subprocess.run([args.logits, checkpoint, TEXT, out], check=True)
    return torch.from_numpy(safetensors_io.load(out)["logits"])


def compare(what, heed, want):
    err = (heed - want).abs().max().item()
    print(f"{what}: logits {list(heed.shape)}, max |heed - PyTorch| = {err:.3g}")
    return err <= 1e-4


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gpt", required=True)
    p.add_argument("--logits", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    ok = True

    # 1. heed trains and saves; PyTorch loads.
    heed_dir = os.path.join(args.work, "heed")
    subprocess.run([args.gpt, "--steps", "5", "--eval-every", "5", "--layers", "2", "--heads", "2", "--embd", "32",
                    "--context", "64", "--out", heed_dir], check=True, stdout=subprocess.DEVNULL)
    ckpt = os.path.join(heed_dir, "gpt.safetensors")
    model = GPT(config_of(ckpt))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in safetensors_io.load(ckpt).items()}, strict=True)
    ok &= compare("heed -> PyTorch", heed_logits(args, ckpt, "heed_logits.safetensors"), torch_logits(model, TEXT))

    # 2. PyTorch makes a model and saves it; heed loads it.
    torch.manual_seed(0)
    config = {"vocab_size": 256, "block_size": 64, "n_layer": 2, "n_head": 4, "n_embd": 32}
    model = GPT(config)
    with torch.no_grad():  # PyTorch's default init leaves the layer norms at 1 and 0: make them count
        for name, t in model.named_parameters():
            if "ln_" in name:
                t.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    ckpt = os.path.join(args.work, "torch.safetensors")
    meta = {"gpt." + k: v for k, v in config.items()}
    meta["gpt.dropout"] = "0.0"
    safetensors_io.save(dict(model.state_dict()), ckpt, metadata=meta)
    ok &= compare("PyTorch -> heed", heed_logits(args, ckpt, "torch_logits.safetensors"), torch_logits(model, TEXT))
    gen = subprocess.run([args.gpt, "--checkpoint", ckpt, "--generate", "heed", "--tokens", "20",
                          "--out", args.work], capture_output=True, text=True)
    print(f"the example generates from PyTorch's checkpoint: exit {gen.returncode}")
    ok &= gen.returncode == 0

    print("gpt parity: ok" if ok else "gpt parity: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
