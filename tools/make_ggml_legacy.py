#!/usr/bin/python3
"""Tiny legacy llama.cpp model files ('ggml', 'ggmf' v1, 'ggjt' v1-v3), written from the format
description alone (docs/formats/ggml-legacy.md) with numpy, as independent test input for
lmforge's reader and as the reference its ggjt v3 writer is compared with.

One tiny random llama (vocab 272 in SentencePiece's layout: <unk>, <s>, </s>, 256 byte pieces,
13 word pieces; n_embd 32, 2 heads, 2 layers, n_mult 32 -> n_ff 96) is written in every
version x tensor type that version had:

  ggml (no version, vocab without scores)   F32 F16 Q4_0 Q4_1
  ggmf v1                                   F32 F16 Q4_0 Q4_1
  ggjt v1 (data aligned to 32 bytes)        F32 F16 Q4_0 Q4_1 Q4_2 Q4_3 Q8_0
  ggjt v2                                   F32 F16 Q4_0 Q4_1 Q8_0
  ggjt v3                                   F32 F16 Q4_0 Q4_1 Q8_0

Block layouts (QK 32 unless noted; all little-endian):
  Q4_0  up to ggjt v1: {f32 d; u8 qs[16]}, qs[j] = q[2j] | q[2j+1] << 4, x = (q - 8) * d
        ggjt v2:       {f32 d; u8 qs[16]}, qs[j] = q[j] | q[j+16] << 4
        ggjt v3:       {f16 d; u8 qs[16]}, qs[j] = q[j] | q[j+16] << 4
  Q4_1  as Q4_0 with a second scale m after d (f32, f32 -> f16, f16 in v3), x = q * d + m
  Q8_0  ggjt v1/v2: {f32 d; i8 qs[32]}; v3: {f16 d; i8 qs[32]}, x = q * d
  Q4_2  ggjt v1 only, QK 16: {f16 d; u8 qs[8]}, paired nibbles, x = (q - 8) * d
  Q4_3  ggjt v1 only, QK 16: {f16 d; f16 m; u8 qs[8]}, paired nibbles, x = q * d + m

Usage: make_ggml_legacy.py OUTDIR   (writes the files, reference-hf/ and manifest.json)
As a module: generate(outdir) returns the same description with every tensor's expected values.
"""

import collections
import json
import os
import struct
import sys

import numpy as np

MAGIC = {"ggml": 0x67676D6C, "ggmf": 0x67676D66, "ggjt": 0x67676A74}
TYPE_ID = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q4_2": 4, "Q4_3": 5, "Q8_0": 8}
FTYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q4_2": 5, "Q4_3": 6, "Q8_0": 7}
VERSIONS = [("ggml", 0, ["F32", "F16", "Q4_0", "Q4_1"]),
            ("ggmf", 1, ["F32", "F16", "Q4_0", "Q4_1"]),
            ("ggjt", 1, ["F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q8_0"]),
            ("ggjt", 2, ["F32", "F16", "Q4_0", "Q4_1", "Q8_0"]),
            ("ggjt", 3, ["F32", "F16", "Q4_0", "Q4_1", "Q8_0"])]

HP = {"n_vocab": 272, "n_embd": 32, "n_mult": 32, "n_head": 2, "n_layer": 2}
HP["n_rot"] = HP["n_embd"] // HP["n_head"]
N_FF = (2 * (4 * HP["n_embd"]) // 3 + HP["n_mult"] - 1) // HP["n_mult"] * HP["n_mult"]
RMS_EPS = 5e-6   # what convert-llama-ggml-to-gguf assumes; the files do not store it
LAYER_PARTS = ["attention.wq", "attention.wk", "attention.wv", "attention.wo",
               "feed_forward.w1", "feed_forward.w2", "feed_forward.w3",
               "attention_norm", "ffn_norm"]
WORDS = ["\u2581the", "\u2581a", "\u2581of", "e", "t", "\u2581and", "\u2581to", "in", "s", "\u2581in",
         "er", "\u2581is", "\u2581model"]


def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# the model

def meta_shapes():
    e, f, v = HP["n_embd"], N_FF, HP["n_vocab"]
    shapes = collections.OrderedDict([("tok_embeddings.weight", (v, e)), ("norm.weight", (e,)),
                                      ("output.weight", (v, e))])
    per = {"attention.wq": (e, e), "attention.wk": (e, e), "attention.wv": (e, e),
           "attention.wo": (e, e), "feed_forward.w1": (f, e), "feed_forward.w2": (e, f),
           "feed_forward.w3": (f, e), "attention_norm": (e,), "ffn_norm": (e,)}
    for layer in range(HP["n_layer"]):
        for part in LAYER_PARTS:
            shapes["layers.%d.%s.weight" % (layer, part)] = per[part]
    return shapes


def tiny_llama(seed=4):
    rng = np.random.default_rng(seed)
    w = collections.OrderedDict()
    for name, shape in meta_shapes().items():
        if len(shape) == 1:
            w[name] = (1.0 + 0.2 * rng.standard_normal(shape)).astype(np.float32)
        else:
            w[name] = (rng.standard_normal(shape) * (0.5 / np.sqrt(shape[1]) * 3)).astype(np.float32)
    return w


def vocab():
    """[(piece, score, gguf token type)] in SentencePiece's id layout."""
    v = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    v += [("<0x%02X>" % b, 0.0, 6) for b in range(256)]
    v += [(w, -float(i + 1), 1) for i, w in enumerate(WORDS)]
    assert len(v) == HP["n_vocab"]
    return v


def legacy_text(piece, ttype):
    """How llama.cpp's converters wrote a piece: unknown " \u2047 ", control "", byte pieces as
    the raw byte, U+2581 as a space."""
    if ttype == 2:
        return " \u2047 ".encode()
    if ttype == 3:
        return b""
    if ttype == 6:
        return bytes([int(piece[3:5], 16)])
    return piece.replace("\u2581", " ").encode()


# ---------------------------------------------------------------------------------------------
# quantization into each layout; returns (bytes, values as stored, values after rewriting to
# today's layout with f16 scales, which is what a reader that keeps the blocks must give)

def _nibbles(q, paired):
    q = q.astype(np.uint8)
    if paired:
        return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    half = q.shape[-1] // 2
    return (q[..., :half] | (q[..., half:] << 4)).astype(np.uint8)


def quant_q4_0(x, old_scale_f32, paired):
    b = x.reshape(-1, 32)
    if paired:  # the pre-#729 quantizer: d = amax / 7
        d = np.abs(b).max(1) / np.float32(7)
        inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0).astype(np.float32)
        q = np.clip(np.round(b * inv[:, None]) + 8, 0, 15)
    else:
        idx = np.argmax(np.abs(b), 1)
        d = (b[np.arange(len(b)), idx] / np.float32(-8)).astype(np.float32)
        inv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0).astype(np.float32)
        q = np.clip(np.floor(b * inv[:, None] + np.float32(8.5)), 0, 15)
    d = d.astype(np.float32) if old_scale_f32 else f16(d)
    qs = _nibbles(q, paired)
    scale = d.astype("<f4" if old_scale_f32 else "<f2").view(np.uint8).reshape(len(b), -1)
    data = np.concatenate([scale, qs], 1).tobytes()
    stored = (q.astype(np.float32) - 8) * d[:, None]
    now = (q.astype(np.float32) - 8) * f16(d)[:, None]
    return data, stored.reshape(x.shape), now.reshape(x.shape)


def quant_q4_1(x, old_scale_f32, paired, qk=32):
    b = x.reshape(-1, qk)
    lo, hi = b.min(1), b.max(1)
    d = ((hi - lo) / np.float32(15)).astype(np.float32)
    inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.round((b - lo[:, None]) * inv[:, None]), 0, 15)
    if not old_scale_f32:
        d, lo = f16(d), f16(lo)
    dt = "<f4" if old_scale_f32 else "<f2"
    head = np.concatenate([d.astype(dt).view(np.uint8).reshape(len(b), -1),
                           lo.astype(dt).view(np.uint8).reshape(len(b), -1)], 1)
    data = np.concatenate([head, _nibbles(q, paired)], 1).tobytes()
    qf = q.astype(np.float32)
    stored = qf * d[:, None] + lo[:, None]
    now = qf * f16(d)[:, None] + f16(lo)[:, None]
    return data, stored.reshape(x.shape), now.reshape(x.shape)


def quant_q8_0(x, old_scale_f32):
    b = x.reshape(-1, 32)
    d = (np.abs(b).max(1) / np.float32(127)).astype(np.float32)
    inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.round(b * inv[:, None]), -127, 127).astype(np.int8)
    if not old_scale_f32:
        d = f16(d)
    scale = d.astype("<f4" if old_scale_f32 else "<f2").view(np.uint8).reshape(len(b), -1)
    data = np.concatenate([scale, q.view(np.uint8)], 1).tobytes()
    stored = q.astype(np.float32) * d[:, None]
    now = q.astype(np.float32) * f16(d)[:, None]
    return data, stored.reshape(x.shape), now.reshape(x.shape)


def quant_q4_2(x):
    b = x.reshape(-1, 16)
    d = f16(np.abs(b).max(1) / np.float32(7))
    inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.round(b * inv[:, None]) + 8, 0, 15)
    data = np.concatenate([d.astype("<f2").view(np.uint8).reshape(len(b), -1), _nibbles(q, True)], 1).tobytes()
    vals = (q.astype(np.float32) - 8) * d[:, None]
    return data, vals.reshape(x.shape), vals.reshape(x.shape)


def encode(x, ttype, container, version):
    """(bytes, values as stored, values a reader gives in today's layout)."""
    old = container != "ggjt" or version < 3
    paired = container != "ggjt" or version < 2
    if ttype == "F32":
        return x.astype("<f4").tobytes(), x, x
    if ttype == "F16":
        return x.astype("<f2").tobytes(), f16(x), f16(x)
    if ttype == "Q4_0":
        return quant_q4_0(x, old, paired)
    if ttype == "Q4_1":
        return quant_q4_1(x, old, paired)
    if ttype == "Q8_0":
        return quant_q8_0(x, old)
    if ttype == "Q4_2":
        return quant_q4_2(x)
    if ttype == "Q4_3":
        data, vals, _ = quant_q4_1(x, False, True, qk=16)
        return data, vals, vals
    raise ValueError(ttype)


# ---------------------------------------------------------------------------------------------
# files

def legacy_bytes(weights, container, version, ttype, n_mult=None):
    """The whole file, and {name: (type, ne, stored values, today's values, data offset)}."""
    out = bytearray()
    out += struct.pack("<I", MAGIC[container])
    if container != "ggml":
        out += struct.pack("<I", version)
    out += struct.pack("<7i", HP["n_vocab"], HP["n_embd"], n_mult or HP["n_mult"], HP["n_head"],
                       HP["n_layer"], HP["n_rot"], FTYPE[ttype])
    for piece, score, tt in vocab():
        text = legacy_text(piece, tt)
        out += struct.pack("<I", len(text)) + text
        if container != "ggml":
            out += struct.pack("<f", score)
    tensors = collections.OrderedDict()
    for name, x in weights.items():
        t = ttype if x.ndim == 2 else "F32"
        if ttype == "F16" and x.ndim == 1:
            t = "F32"
        data, stored, now = encode(x, t, container, version)
        ne = list(reversed(x.shape))
        nb = name.encode()
        record = len(out)
        out += struct.pack("<3i", len(ne), len(nb), TYPE_ID[t]) + struct.pack("<%di" % len(ne), *ne) + nb
        if container == "ggjt":
            out += b"\0" * ((-len(out)) % 32)
        tensors[name] = {"type": t, "type_id": TYPE_ID[t], "ne": ne, "stored": stored, "expected": now,
                         "record": record, "offset": len(out), "nbytes": len(data)}
        out += data
    return bytes(out), tensors


def file_name(container, version, ttype):
    return "%s%s-%s.bin" % (container, "" if container == "ggml" else "-v%d" % version, ttype.lower())


HF_PARTS = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj", "attention.wv": "self_attn.v_proj",
            "attention.wo": "self_attn.o_proj", "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
            "feed_forward.w3": "mlp.up_proj", "attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}


def hf_name(meta):
    """Meta tensor name -> Hugging Face name."""
    glob = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
    if meta in glob:
        return glob[meta]
    _, layer, rest = meta.split(".", 2)
    return "model.layers.%s.%s.weight" % (layer, HF_PARTS[rest[:-len(".weight")]])


def meta_to_hf(weights_meta):
    """Meta names/order -> Hugging Face names, Q/K rows permuted to rotate_half order."""
    hd = HP["n_embd"] // HP["n_head"]

    def permute(w):
        return w.reshape(HP["n_head"], hd // 2, 2, w.shape[1]).transpose(0, 2, 1, 3).reshape(w.shape)

    sd = collections.OrderedDict()
    sd["model.embed_tokens.weight"] = weights_meta["tok_embeddings.weight"]
    for layer in range(HP["n_layer"]):
        p, h = "layers.%d." % layer, "model.layers.%d." % layer
        sd[h + "self_attn.q_proj.weight"] = permute(weights_meta[p + "attention.wq.weight"])
        sd[h + "self_attn.k_proj.weight"] = permute(weights_meta[p + "attention.wk.weight"])
        sd[h + "self_attn.v_proj.weight"] = weights_meta[p + "attention.wv.weight"]
        sd[h + "self_attn.o_proj.weight"] = weights_meta[p + "attention.wo.weight"]
        sd[h + "mlp.gate_proj.weight"] = weights_meta[p + "feed_forward.w1.weight"]
        sd[h + "mlp.down_proj.weight"] = weights_meta[p + "feed_forward.w2.weight"]
        sd[h + "mlp.up_proj.weight"] = weights_meta[p + "feed_forward.w3.weight"]
        sd[h + "input_layernorm.weight"] = weights_meta[p + "attention_norm.weight"]
        sd[h + "post_attention_layernorm.weight"] = weights_meta[p + "ffn_norm.weight"]
    sd["model.norm.weight"] = weights_meta["norm.weight"]
    sd["lm_head.weight"] = weights_meta["output.weight"]
    return sd


def write_hf_reference(folder, weights_meta):
    """A Hugging Face folder (config.json, pytorch_model.bin) holding exactly these values, for
    tests/oracles/torch_reference.py."""
    import torch
    os.makedirs(folder, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": HP["n_vocab"],
           "hidden_size": HP["n_embd"], "intermediate_size": N_FF, "num_hidden_layers": HP["n_layer"],
           "num_attention_heads": HP["n_head"], "num_key_value_heads": HP["n_head"],
           "max_position_embeddings": 2048, "rms_norm_eps": RMS_EPS, "rope_theta": 10000.0,
           "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    sd = {k: torch.from_numpy(np.array(v, dtype=np.float32, copy=True)) for k, v in meta_to_hf(weights_meta).items()}
    torch.save(sd, os.path.join(folder, "pytorch_model.bin"))


def generate(outdir, reference=True):
    os.makedirs(outdir, exist_ok=True)
    weights = tiny_llama()
    files = []
    for container, version, types in VERSIONS:
        for ttype in types:
            data, tensors = legacy_bytes(weights, container, version, ttype)
            path = os.path.join(outdir, file_name(container, version, ttype))
            with open(path, "wb") as f:
                f.write(data)
            files.append({"path": path, "container": container, "version": version, "type": ttype,
                          "ftype": FTYPE[ttype], "tensors": tensors})
    if reference:
        write_hf_reference(os.path.join(outdir, "reference-hf"), weights)
    manifest = {"hparams": HP, "n_ff": N_FF, "rms_norm_eps": RMS_EPS,
                "files": [{k: v for k, v in f.items() if k != "tensors"} for f in files]}
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return {"weights": weights, "vocab": vocab(), "files": files}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_ggml_legacy.py OUTDIR")
    g = generate(sys.argv[1])
    print("wrote %d legacy files to %s" % (len(g["files"]), sys.argv[1]))
