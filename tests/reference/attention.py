"""Reference values for tests/test_nn_attention.cpp, computed with PyTorch 1.13.

Run from the repository root with Debian's python (the one that has torch):
    /usr/bin/python3 tests/reference/attention.py
It writes tests/reference/fixtures/attention.safetensors (float32).

Mask convention. heed's attention masks are 1 (any nonzero) where a score is
HIDDEN, 0 where it is kept. That is the convention of PyTorch's
MultiheadAttention bool masks (True = masked) and of masked_fill, but the
opposite of F.scaled_dot_product_attention's bool attn_mask (True = keep, in
PyTorch >= 2.0). Every mask below is saved as float 0/1 in heed's convention.

Each case stores, under "<case>.":
  params.<name>       the layer's weights, named as heed's (and PyTorch's) state dict
  <input names>       the inputs and masks
  out, weights        the forward results
  grad.<input>        gradients of the inputs      } for the loss
  grad.params.<name>  gradients of the parameters  } (out*R).sum() + (weights*RW).sum()
  R, RW               the random weights of that loss
The loss adds a term in the attention weights so that their backward path (the
head average in MultiheadAttention) is checked too, not only the output's.

torch 1.13 has no F.scaled_dot_product_attention; the single-head layers are
written out with softmax(q k^T / sqrt(d)) v, as heed defines them.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
OUT = {}


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_()


def attend(scores, hidden):
    """softmax over the last dim (the keys) with hidden scores set to -inf first."""
    if hidden is not None:
        scores = scores.masked_fill(hidden, float("-inf"))
    return torch.softmax(scores, dim=-1)


def store(case, inputs, params, out, weights, masks=None):
    """Saves inputs, params, outputs, and the gradients of (out*R).sum() + (weights*RW).sum()."""
    R = torch.randn(out.shape)
    RW = torch.randn(weights.shape)
    loss = (out * R).sum() + (weights * RW).sum()
    loss.backward()
    for name, t in inputs.items():
        OUT[f"{case}.{name}"] = t.detach()
    for name, m in (masks or {}).items():
        OUT[f"{case}.{name}"] = m.float()  # 1 = hidden, heed's convention
    for name, p in params.items():
        OUT[f"{case}.params.{name}"] = p.detach()
    OUT[f"{case}.out"] = out.detach()
    OUT[f"{case}.weights"] = weights.detach()
    OUT[f"{case}.R"] = R
    OUT[f"{case}.RW"] = RW
    for name, t in inputs.items():
        OUT[f"{case}.grad.{name}"] = t.grad
    for name, p in params.items():
        OUT[f"{case}.grad.params.{name}"] = p.grad


# ---- scaled dot-product attention, with a mask: q [B, H, Tq, D] ---------------
def sdpa_masked():
    B, H, Tq, Tk, D, Dv = 2, 2, 4, 5, 3, 6
    q, k, v = leaf(B, H, Tq, D), leaf(B, H, Tk, D), leaf(B, H, Tk, Dv)
    # [B, 1, Tq, Tk]: broadcast over heads. Every row keeps at least one key.
    hidden = torch.rand(B, 1, Tq, Tk) < 0.4
    hidden[..., 0] = False
    w = attend(q @ k.transpose(-2, -1) / math.sqrt(D), hidden)
    store("sdpa_mask", {"q": q, "k": k, "v": v}, {}, w @ v, w, {"mask": hidden})


# ---- scaled dot-product attention, causal: j > i hidden ------------------------
def sdpa_causal():
    B, T, D, Dv = 2, 4, 3, 2
    q, k, v = leaf(B, T, D), leaf(B, T, D), leaf(B, T, Dv)
    hidden = torch.ones(T, T).triu(1).bool()
    w = attend(q @ k.transpose(-2, -1) / math.sqrt(D), hidden)
    store("sdpa_causal", {"q": q, "k": k, "v": v}, {}, w @ v, w)


# ---- nn.MultiheadAttention: the issue's configuration --------------------------
def mha_batch_first():
    E, H, B, L, S = 8, 2, 2, 4, 5
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
    # Non-zero biases, so that their loading and gradients are really checked.
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    query, key, value = leaf(B, L, E), leaf(B, S, E), leaf(B, S, E)
    key_padding_mask = torch.tensor([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1]], dtype=torch.bool)
    attn_mask = torch.tensor([[0, 1, 0, 0, 0],
                              [0, 0, 1, 0, 0],
                              [1, 0, 0, 0, 0],
                              [0, 0, 0, 0, 0]], dtype=torch.bool)
    out, w = mha(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                 attn_mask=attn_mask, average_attn_weights=True)
    store("mha", {"query": query, "key": key, "value": value}, dict(mha.named_parameters()), out, w,
          {"key_padding_mask": key_padding_mask, "attn_mask": attn_mask})


# ---- nn.MultiheadAttention: sequence first, no bias, per-head [B*H, L, S] mask,
# per-head weights, self-attention (one tensor as query, key and value) --------
def mha_seq_first():
    E, H, B, T = 6, 3, 2, 3
    mha = torch.nn.MultiheadAttention(E, H, bias=False)
    x = leaf(T, B, E)  # [T, B, E]
    attn_mask = torch.rand(B * H, T, T) < 0.4
    attn_mask[..., 1] = False
    # x is query, key and value at once: its gradient sums three paths.
    out, w = mha(x, x, x, need_weights=True, attn_mask=attn_mask, average_attn_weights=False)
    store("mha_seq", {"x": x}, dict(mha.named_parameters()), out, w, {"attn_mask": attn_mask})


# ---- Bahdanau: score = v^T tanh(W_q q + W_k k) ---------------------------------
def additive():
    B, Tq, Tk, Dq, Dk, Dv, A = 2, 3, 4, 3, 5, 2, 6
    query_proj = torch.nn.Linear(Dq, A, bias=False)
    key_proj = torch.nn.Linear(Dk, A, bias=False)
    score_proj = torch.nn.Linear(A, 1, bias=False)
    query, keys, values = leaf(B, Tq, Dq), leaf(B, Tk, Dk), leaf(B, Tk, Dv)
    hidden = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 1]], dtype=torch.bool).view(B, 1, Tk)  # padding
    # [B, Tq, 1, A] + [B, 1, Tk, A] -> [B, Tq, Tk, A] -> [B, Tq, Tk]
    feats = torch.tanh(query_proj(query).unsqueeze(2) + key_proj(keys).unsqueeze(1))
    w = attend(score_proj(feats).squeeze(-1), hidden)
    params = {"query_proj.weight": query_proj.weight, "key_proj.weight": key_proj.weight,
              "score_proj.weight": score_proj.weight}
    store("additive", {"query": query, "keys": keys, "values": values}, params, w @ values, w,
          {"mask": hidden})


# ---- Luong general: score = q^T W k -------------------------------------------
def general():
    B, Tq, Tk, Dq, Dk, Dv = 2, 2, 3, 4, 3, 5
    weight = torch.empty(Dq, Dk).uniform_(-0.5, 0.5).requires_grad_()
    query, keys, values = leaf(B, Tq, Dq), leaf(B, Tk, Dk), leaf(B, Tk, Dv)
    w = attend(query @ weight @ keys.transpose(-2, -1), None)
    store("general", {"query": query, "keys": keys, "values": values}, {"weight": weight},
          w @ values, w)


# ---- single-head self-attention with q/k/v/out projections, causal -------------
def self_attention():
    B, T, C = 2, 4, 6
    proj = {n: torch.nn.Linear(C, C) for n in ["q_proj", "k_proj", "v_proj", "out_proj"]}
    x = leaf(B, T, C)
    q, k, v = proj["q_proj"](x), proj["k_proj"](x), proj["v_proj"](x)
    hidden = torch.ones(T, T).triu(1).bool()
    w = attend(q @ k.transpose(-2, -1) / math.sqrt(C), hidden)
    out = proj["out_proj"](w @ v)
    params = {f"{n}.{p}": getattr(m, p) for n, m in proj.items() for p in ["weight", "bias"]}
    store("self", {"x": x}, params, out, w)


# ---- the same layer without a mask, B*T >= 2C: heed folds v_proj into out_proj ---
def self_attention_plain():
    B, T, C = 2, 6, 5
    proj = {n: torch.nn.Linear(C, C) for n in ["q_proj", "k_proj", "v_proj", "out_proj"]}
    x = leaf(B, T, C)
    q, k, v = proj["q_proj"](x), proj["k_proj"](x), proj["v_proj"](x)
    w = attend(q @ k.transpose(-2, -1) / math.sqrt(C), None)
    out = proj["out_proj"](w @ v)
    params = {f"{n}.{p}": getattr(m, p) for n, m in proj.items() for p in ["weight", "bias"]}
    store("self_plain", {"x": x}, params, out, w)


# ---- cross-attention between two modalities, output concat(H_a, attention) -----
def cross_attention():
    B, Ta, Tb, Ca, Cb, E = 2, 3, 4, 3, 5, 4
    proj = {"q_proj": torch.nn.Linear(Ca, E), "k_proj": torch.nn.Linear(Cb, E),
            "v_proj": torch.nn.Linear(Cb, E), "out_proj": torch.nn.Linear(E, E)}
    a, b = leaf(B, Ta, Ca), leaf(B, Tb, Cb)
    hidden = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 1]], dtype=torch.bool).view(B, 1, Tb)
    q, k, v = proj["q_proj"](a), proj["k_proj"](b), proj["v_proj"](b)
    w = attend(q @ k.transpose(-2, -1) / math.sqrt(E), hidden)
    out = torch.cat([a, proj["out_proj"](w @ v)], dim=-1)  # [B, Ta, Ca + E]
    params = {f"{n}.{p}": getattr(m, p) for n, m in proj.items() for p in ["weight", "bias"]}
    store("cross", {"a": a, "b": b}, params, out, w, {"mask": hidden})


for make in [sdpa_masked, sdpa_causal, mha_batch_first, mha_seq_first, additive, general,
             self_attention, cross_attention, self_attention_plain]:
    make()

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "attention.safetensors")
safetensors_io.save({k: v.float() for k, v in OUT.items()}, path,
                    metadata={"script": "tests/reference/attention.py", "torch": torch.__version__})
print(f"wrote {len(OUT)} tensors to {path} ({os.path.getsize(path)} bytes)")
