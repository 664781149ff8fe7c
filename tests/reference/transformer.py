"""Reference values for tests/test_nn_transformer.cpp, computed with PyTorch 1.13.

Run from the repository root with Debian's python (the one that has torch):
    /usr/bin/python3 tests/reference/transformer.py
It writes tests/reference/fixtures/transformer.safetensors (float32).

Each case stores, under "<case>.":
  params.<name>       the module's parameters, named as in its state dict
  <input names>       the inputs
  <mask names>        float masks as they are (added to the scores); bool masks
                      as float 0/1 under "<name>.bool" (heed passes them as int64)
  out                 the output
  R                   random weights of the loss (out * R).sum()
  grad.<input>        gradients of the inputs and of
  grad.params.<name>  every parameter, for that loss

Dropout is 0 so that both sides compute the same function; the layers are in
training mode with inputs that require grad, which keeps PyTorch off its
inference fast path (nested tensors zero the padded positions' outputs).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
OUT = {}
E, H, FF = 8, 2, 16


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_()


def randomize(module):
    """LayerNorm starts at weight 1, bias 0 and MHA's biases at 0: make every
    parameter random so that no gradient is checked only at a trivial point."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.normal_(mean=1.0 if name.endswith("weight") else 0.0, std=0.3)


def store(case, module, inputs, out, masks=None):
    R = torch.randn(out.shape)
    (out * R).sum().backward()
    for name, t in inputs.items():
        OUT[f"{case}.{name}"] = t.detach()
        OUT[f"{case}.grad.{name}"] = t.grad
    for name, m in (masks or {}).items():
        if m.dtype == torch.bool:
            OUT[f"{case}.{name}.bool"] = m.float()
        else:
            OUT[f"{case}.{name}"] = m
    for name, p in module.named_parameters():
        OUT[f"{case}.params.{name}"] = p.detach()
        OUT[f"{case}.grad.params.{name}"] = p.grad
    OUT[f"{case}.out"] = out.detach()
    OUT[f"{case}.R"] = R


def causal(T):
    return torch.nn.Transformer.generate_square_subsequent_mask(T)  # 0 / -inf float


def padding(B, S, hide):
    """[B, S] bool, True = padding: the last `hide[b]` keys of entry b."""
    m = torch.zeros(B, S, dtype=torch.bool)
    for b, n in enumerate(hide):
        if n:
            m[b, S - n:] = True
    return m


def additive(T, S):
    """A float mask with real biases, and -inf at a few scores (never a whole row)."""
    m = 0.5 * torch.randn(T, S)
    m[0, S - 1] = float("-inf")
    m[T - 1, 0] = float("-inf")
    return m


# ---- encoder layers -------------------------------------------------------------
def encoder_post_masks():
    """post-norm, relu, batch_first; an additive float src_mask and a bool padding mask"""
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True)
    randomize(layer)
    B, T = 2, 5
    src = leaf(B, T, E)
    mask, kpm = additive(T, T), padding(B, T, [0, 2])
    out = layer(src, src_mask=mask, src_key_padding_mask=kpm)
    store("enc_post", layer, {"src": src}, out, {"src_mask": mask, "src_key_padding_mask": kpm})


def encoder_pre_causal():
    """pre-norm, gelu, sequence first [T, B, E]; the causal float mask (heed: is_causal too)"""
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation="gelu", norm_first=True)
    randomize(layer)
    T, B = 6, 3
    src = leaf(T, B, E)
    out = layer(src, src_mask=causal(T))
    store("enc_pre", layer, {"src": src}, out, {"src_mask": causal(T)})


def encoder_gelu_tanh():
    """post-norm, GELU's tanh approximation, no masks, one unbatched sequence [T, E]"""
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0,
                                             activation=lambda x: F.gelu(x, approximate="tanh"))
    randomize(layer)
    src = leaf(4, E)
    out = layer(src)
    store("enc_tanh", layer, {"src": src}, out)


# ---- decoder layers -------------------------------------------------------------
def decoder_post_masks():
    """post-norm, relu, batch_first; causal tgt_mask, bool padding of tgt and memory"""
    layer = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=True)
    randomize(layer)
    B, T, S = 2, 4, 6
    tgt, memory = leaf(B, T, E), leaf(B, S, E)
    tkpm, mkpm = padding(B, T, [1, 0]), padding(B, S, [0, 3])
    # A padded target position that is its own only key would hide every key of
    # its row (PyTorch: NaN); padding the last position only keeps each row alive.
    out = layer(tgt, memory, tgt_mask=causal(T), tgt_key_padding_mask=tkpm, memory_key_padding_mask=mkpm)
    store("dec_post", layer, {"tgt": tgt, "memory": memory}, out,
          {"tgt_mask": causal(T), "tgt_key_padding_mask": tkpm, "memory_key_padding_mask": mkpm})


def decoder_pre_memory_mask():
    """pre-norm, gelu, sequence first; an additive float memory_mask"""
    layer = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation="gelu", norm_first=True)
    randomize(layer)
    T, S, B = 3, 5, 2
    tgt, memory = leaf(T, B, E), leaf(S, B, E)
    mm = additive(T, S)
    out = layer(tgt, memory, memory_mask=mm)
    store("dec_pre", layer, {"tgt": tgt, "memory": memory}, out, {"memory_mask": mm})


# ---- stacks ---------------------------------------------------------------------
def encoder_stack():
    """2 pre-norm layers and a final LayerNorm, batch_first, bool padding mask"""
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True, norm_first=True)
    enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    randomize(enc)
    with torch.no_grad():  # PyTorch deep-copies the layer: make the two differ
        for p in enc.layers[1].parameters():
            p.add_(0.1 * torch.randn(p.shape))
    B, T = 2, 5
    src = leaf(B, T, E)
    kpm = padding(B, T, [2, 1])
    out = enc(src, src_key_padding_mask=kpm)
    store("enc_stack", enc, {"src": src}, out, {"src_key_padding_mask": kpm})


def decoder_stack():
    """2 post-norm layers and a final LayerNorm, sequence first, causal"""
    layer = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0)
    dec = torch.nn.TransformerDecoder(layer, 2, norm=torch.nn.LayerNorm(E))
    randomize(dec)
    with torch.no_grad():
        for p in dec.layers[1].parameters():
            p.add_(0.1 * torch.randn(p.shape))
    T, S, B = 4, 3, 2
    tgt, memory = leaf(T, B, E), leaf(S, B, E)
    out = dec(tgt, memory, tgt_mask=causal(T))
    store("dec_stack", dec, {"tgt": tgt, "memory": memory}, out, {"tgt_mask": causal(T)})


# ---- MultiheadAttention with float masks: added to the scores ---------------------
# (PyTorch 1.13 cannot combine a float key_padding_mask with a float attn_mask:
# it masked_fills with the padding mask, which must then be 0/1. Each goes alone.)
def mha_float_masks():
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
    randomize(mha)
    B, L, S = 2, 3, 4
    q, k, v = leaf(B, L, E), leaf(B, S, E), leaf(B, S, E)
    am, kpm = additive(L, S), padding(B, S, [1, 0])
    out, _ = mha(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=False)
    store("mha_float", mha, {"query": q, "key": k, "value": v}, out, {"attn_mask": am, "key_padding_mask": kpm})


def mha_float_padding():
    mha = torch.nn.MultiheadAttention(E, H)
    randomize(mha)
    L, S, B = 3, 4, 2
    q, k, v = leaf(L, B, E), leaf(S, B, E), leaf(S, B, E)
    kpm = 0.7 * torch.randn(B, S)
    kpm[1, 2] = float("-inf")
    out, _ = mha(q, k, v, key_padding_mask=kpm, need_weights=False)
    store("mha_float_kpm", mha, {"query": q, "key": k, "value": v}, out, {"key_padding_mask": kpm})


# ---- the whole nn.Transformer --------------------------------------------------------
def transformer():
    """2 encoder and 1 decoder layers, post-norm, batch_first; causal target, bool source padding"""
    model = torch.nn.Transformer(E, H, 2, 1, FF, dropout=0.0, batch_first=True)
    randomize(model)
    B, S, T = 2, 5, 4
    src, tgt = leaf(B, S, E), leaf(B, T, E)
    kpm = padding(B, S, [0, 2])
    out = model(src, tgt, tgt_mask=causal(T), src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
    store("transformer", model, {"src": src, "tgt": tgt}, out,
          {"tgt_mask": causal(T), "src_key_padding_mask": kpm, "memory_key_padding_mask": kpm})


for make in [encoder_post_masks, encoder_pre_causal, encoder_gelu_tanh, decoder_post_masks, decoder_pre_memory_mask,
             encoder_stack, decoder_stack, mha_float_masks, mha_float_padding, transformer]:
    make()

for key, t in OUT.items():
    assert not torch.isnan(t).any(), key

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "transformer.safetensors")
safetensors_io.save({k: v.float().contiguous() for k, v in OUT.items()}, path,
                    metadata={"script": "tests/reference/transformer.py", "torch": torch.__version__})
print(f"wrote {len(OUT)} tensors to {path} ({os.path.getsize(path)} bytes)")
