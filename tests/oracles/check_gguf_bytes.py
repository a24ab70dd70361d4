#!/usr/bin/python3
"""lmforge's view of the GGUF files it writes, against @huggingface/gguf's and against the
checkpoint the file came from.

For each fixture model and outtype (f32, f16, bf16, q8_0, q4_0) it converts HF -> GGUF, then:
  1. `lmforge inspect --json` and gguf_parse.mjs (@huggingface/gguf) agree: version, the same
     metadata keys with the same types, element types and values (floats compared as float32),
     the same tensors in the same order with the same ggml dtype, shape (lmforge row-major =
     reversed GGUF ne) and offset, and the same totals;
  2. the layout is what llama.cpp (2025+) requires: general.alignment (or 32) is a power of
     two, the data blob starts aligned, tensor i sits at the running sum of the padded sizes of
     tensors 0..i-1, and the file ends with the last tensor's padding;
  3. the metadata says what the checkpoint says: llama.* hyper-parameters from config.json
     (UINT32 / FLOAT32 as llama.cpp requires), rope scaling, general.file_type, the vocabulary
     (pieces, scores, token types) from tokenizer.model, special ids and add_bos/add_eos from
     tokenizer_config.json; tensor names and GGUF shapes from the HF names and shapes; 1-D
     tensors stay F32; no rotary inv_freq buffers;
  4. the tensor data is the checkpoint's, Q/K rows permuted to ggml's rotary layout: exactly
     (round to nearest even) for F32/F16/BF16, within the block rounding for Q8_0/Q4_0.
"""

import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    lmforge_inspect, load_hf_state_dict, main_wrapper, require_node_modules, run,
                    run_node, workdir_for)

OUTTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0"]
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "bf16": 32}
BLOCK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q8_0": (32, 34), "Q4_0": (32, 18),
         "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q6_K": (256, 210),
         "Q4_K": (256, 144), "I8": (1, 1), "I16": (1, 2), "I32": (1, 4), "F64": (1, 8)}
HF_TO_GGUF = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
              "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def same_value(t, a, b):
    if t == "FLOAT32":
        return f32(a) == f32(b)
    if t in ("FLOAT64",):
        return float(a) == float(b)
    if t in ("UINT64", "INT64"):
        return int(a) == int(b)
    return a == b


def compare_metadata(tag, mine, theirs):
    check(set(mine) == set(theirs), "%s: metadata keys differ: only lmforge %s, only "
          "@huggingface/gguf %s" % (tag, sorted(set(mine) - set(theirs)),
                                    sorted(set(theirs) - set(mine))))
    for key, ref in theirs.items():
        got = mine[key]
        check(got.get("type") == ref["type"], "%s: %s has type %s in lmforge, %s in "
              "@huggingface/gguf" % (tag, key, got.get("type"), ref["type"]))
        if ref["type"] == "ARRAY":
            et = ref["element_type"]
            check(got.get("element_type") == et, "%s: %s element type %s vs %s"
                  % (tag, key, got.get("element_type"), et))
            a, b = got["value"], ref["value"]
            check(isinstance(a, list) and len(a) == len(b),
                  "%s: %s has %s elements in lmforge, %d in @huggingface/gguf"
                  % (tag, key, len(a) if isinstance(a, list) else "no list of", len(b)))
            for i, (x, y) in enumerate(zip(a, b)):
                check(same_value(et, x, y), "%s: %s[%d] = %r in lmforge, %r in "
                      "@huggingface/gguf" % (tag, key, i, x, y))
        else:
            check(same_value(ref["type"], got["value"], ref["value"]),
                  "%s: %s = %r in lmforge, %r in @huggingface/gguf"
                  % (tag, key, got["value"], ref["value"]))


def tensor_nbytes(dtype, ne):
    blk, size = BLOCK[dtype]
    check(ne[0] % blk == 0, "%s row of %d is not a multiple of the block %d" % (dtype, ne[0], blk))
    n = ne[0] // blk * size
    for d in ne[1:]:
        n *= d
    return n


def compare_tensors(tag, insp, ref):
    mine = insp["tensors"]
    check(len(mine) == len(ref["tensors"]), "%s: %d tensors in lmforge, %d in @huggingface/gguf"
          % (tag, len(mine), len(ref["tensors"])))
    data_start = ref["tensor_data_offset"]
    relative = None
    for m, r in zip(mine, ref["tensors"]):
        check(m["name"] == r["name"], "%s: tensor order differs: %s vs %s" % (tag, m["name"], r["name"]))
        check(m["dtype"] == r["dtype"], "%s: %s dtype %s in lmforge, %s in @huggingface/gguf"
              % (tag, m["name"], m["dtype"], r["dtype"]))
        check(list(m["shape"]) == list(reversed(r["ne"])),
              "%s: %s shape %s in lmforge, GGUF ne %s (expected the reverse)"
              % (tag, m["name"], m["shape"], r["ne"]))
        # the contract leaves open whether "offset" is absolute or relative to the data blob;
        # either is fine as long as every tensor uses the same one
        if relative is None:
            relative = m["offset"] == r["offset"]
        want = r["offset"] if relative else r["offset"] + data_start
        check(m["offset"] == want, "%s: %s offset %s in lmforge, %s (relative %s) in "
              "@huggingface/gguf" % (tag, m["name"], m["offset"], want, r["offset"]))
        nb = tensor_nbytes(r["dtype"], r["ne"])
        check(m.get("bytes") == nb, "%s: %s bytes %s in lmforge, %d from dtype and shape"
              % (tag, m["name"], m.get("bytes"), nb))
    totals = insp.get("totals", {})
    check(totals.get("tensors") == len(ref["tensors"]), "%s: totals.tensors %s, expected %d"
          % (tag, totals.get("tensors"), len(ref["tensors"])))
    params = 0
    for r in ref["tensors"]:
        n = 1
        for d in r["ne"]:
            n *= d
        params += n
    check(totals.get("parameters") == params, "%s: totals.parameters %s, expected %d"
          % (tag, totals.get("parameters"), params))


def check_layout(tag, path, ref):
    size = os.path.getsize(path)
    align = ref["metadata"].get("general.alignment", {"value": 32})["value"]
    check(align > 0 and align & (align - 1) == 0, "%s: alignment %s is not a power of two" % (tag, align))
    start = ref["tensor_data_offset"]
    check(start % align == 0, "%s: data blob starts at %d, not a multiple of %d" % (tag, start, align))
    expect = 0
    for r in ref["tensors"]:
        check(r["offset"] == expect, "%s: tensor %s at offset %d, llama.cpp expects %d (dense, "
              "in info order)" % (tag, r["name"], r["offset"], expect))
        nb = tensor_nbytes(r["dtype"], r["ne"])
        expect += nb + (align - nb % align) % align
    check(start + expect == size, "%s: file is %d bytes, tensors end at %d" % (tag, size, start + expect))
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:4] == b"GGUF" and struct.unpack_from("<I", head, 4)[0] == 3,
          "%s: header is not GGUF version 3" % tag)


def expected_tensors(model):
    out = {}
    for name, shape in model["tensors"].items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        if name == "model.embed_tokens.weight":
            g = "token_embd.weight"
        elif name == "model.norm.weight":
            g = "output_norm.weight"
        elif name == "lm_head.weight":
            g = "output.weight"
        else:
            parts = name.split(".")
            g = "blk.%s.%s.weight" % (parts[2], HF_TO_GGUF[".".join(parts[3:-1])])
        out[g] = list(reversed(shape))
    return out


def check_semantics(tag, model, outtype, ref, fixtures):
    import sentencepiece
    cfg = model["config"]
    md = {k: v for k, v in ref["metadata"].items()}

    def want(key, typ, value):
        check(key in md, "%s: metadata key %s is missing" % (tag, key))
        check(md[key]["type"] == typ, "%s: %s has type %s, llama.cpp needs %s"
              % (tag, key, md[key]["type"], typ))
        check(same_value(typ, md[key]["value"], value), "%s: %s = %r, expected %r"
              % (tag, key, md[key]["value"], value))

    want("general.architecture", "STRING", "llama")
    want("general.file_type", "UINT32", FILE_TYPE[outtype])
    want("llama.embedding_length", "UINT32", cfg["hidden_size"])
    want("llama.block_count", "UINT32", cfg["num_hidden_layers"])
    want("llama.feed_forward_length", "UINT32", cfg["intermediate_size"])
    want("llama.attention.head_count", "UINT32", cfg["num_attention_heads"])
    want("llama.attention.head_count_kv", "UINT32", cfg["num_key_value_heads"])
    want("llama.context_length", "UINT32", cfg["max_position_embeddings"])
    want("llama.rope.dimension_count", "UINT32", cfg["hidden_size"] // cfg["num_attention_heads"])
    want("llama.attention.layer_norm_rms_epsilon", "FLOAT32", cfg["rms_norm_eps"])
    if cfg["rope_theta"] != 10000.0 or "llama.rope.freq_base" in md:
        want("llama.rope.freq_base", "FLOAT32", cfg["rope_theta"])
    if cfg.get("rope_scaling"):
        want("llama.rope.scaling.type", "STRING", "linear")
        want("llama.rope.scaling.factor", "FLOAT32", cfg["rope_scaling"]["factor"])
    if outtype in ("q8_0", "q4_0"):
        want("general.quantization_version", "UINT32", 2)
    want("tokenizer.ggml.model", "STRING", "llama")
    want("tokenizer.ggml.bos_token_id", "UINT32", 1)
    want("tokenizer.ggml.eos_token_id", "UINT32", 2)
    want("tokenizer.ggml.add_bos_token", "BOOL", True)
    want("tokenizer.ggml.add_eos_token", "BOOL", False)
    if "tokenizer.ggml.unknown_token_id" in md:
        want("tokenizer.ggml.unknown_token_id", "UINT32", 0)

    sp = sentencepiece.SentencePieceProcessor(
        model_file=os.path.join(fixtures, model["path"], "tokenizer.model"))
    n = sp.vocab_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    scores = [sp.get_score(i) for i in range(n)]
    types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i)
             else 6 if sp.is_byte(i) else 1 for i in range(n)]
    for key, et, vals in [("tokenizer.ggml.tokens", "STRING", pieces),
                          ("tokenizer.ggml.scores", "FLOAT32", scores),
                          ("tokenizer.ggml.token_type", "INT32", types)]:
        check(key in md and md[key]["type"] == "ARRAY" and md[key]["element_type"] == et,
              "%s: %s must be an ARRAY of %s" % (tag, key, et))
        got = md[key]["value"]
        check(len(got) == cfg["vocab_size"], "%s: %s has %d entries, vocab_size is %d"
              % (tag, key, len(got), cfg["vocab_size"]))
        for i, (a, b) in enumerate(zip(got, vals)):
            check(same_value(et, a, b), "%s: %s[%d] = %r, tokenizer.model says %r" % (tag, key, i, a, b))

    names = {t["name"]: t for t in ref["tensors"]}
    exp = expected_tensors(model)
    check(set(names) == set(exp), "%s: tensors differ from the checkpoint's: extra %s, missing %s"
          % (tag, sorted(set(names) - set(exp)), sorted(set(exp) - set(names))))
    for g, ne in exp.items():
        check(names[g]["ne"] == ne, "%s: %s ne %s, expected %s" % (tag, g, names[g]["ne"], ne))
        if len(ne) == 1:
            check(names[g]["dtype"] == "F32", "%s: 1-D tensor %s is %s, not F32"
                  % (tag, g, names[g]["dtype"]))
        elif outtype in ("f32", "f16", "bf16"):
            check(names[g]["dtype"] == outtype.upper(), "%s: %s is %s, outtype %s"
                  % (tag, g, names[g]["dtype"], outtype))


def gguf_to_hf(g, model):
    """HF tensor name and the head count to permute by (None: no permutation) for GGUF name g."""
    cfg = model["config"]
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if g in fixed:
        return fixed[g], None
    _, layer, kind, _ = g.split(".")
    hf = [k for k, v in HF_TO_GGUF.items() if v == kind][0]
    heads = {"attn_q": cfg["num_attention_heads"], "attn_k": cfg["num_key_value_heads"]}.get(kind)
    return "model.layers.%s.%s.weight" % (layer, hf), heads


def rotary_permute(w, n_heads):
    """HF rotate_half row order -> ggml's adjacent pairs: row h*hd + 2i + j <- h*hd + j*hd/2 + i."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def decode(dtype, raw, shape):
    """float64 values of a GGUF tensor and, for block types, the per-element scale d."""
    if dtype == "F32":
        return np.frombuffer(raw, "<f4").astype(np.float64).reshape(shape), None
    if dtype == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float64).reshape(shape), None
    if dtype == "BF16":
        bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64).reshape(shape), None
    if dtype == "Q8_0":
        blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "i1", 32)]))
        d = blocks["d"].astype(np.float64)[:, None]
        vals = blocks["qs"].astype(np.float64) * d
        return vals.reshape(shape), np.broadcast_to(d, vals.shape).reshape(shape)
    if dtype == "Q4_0":
        blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
        d = blocks["d"].astype(np.float64)[:, None]
        q = np.concatenate([blocks["qs"] & 15, blocks["qs"] >> 4], axis=1).astype(np.float64) - 8
        vals = q * d
        return vals.reshape(shape), np.broadcast_to(d, vals.shape).reshape(shape)
    return None, None


def f32_to_bf16_rne(x32):
    bits = x32.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def check_values(tag, model, path, ref, state_dict):
    """Every tensor's data is the checkpoint's (Q/K rows permuted) in the stored dtype: exact for
    F32/F16/BF16 (round to nearest even), within the block format's rounding for Q8_0/Q4_0."""
    import torch
    skipped = []
    with open(path, "rb") as f:
        data = f.read()
    for t in ref["tensors"]:
        shape = list(reversed(t["ne"]))
        start = ref["tensor_data_offset"] + t["offset"]
        raw = data[start:start + tensor_nbytes(t["dtype"], t["ne"])]
        got, scale = decode(t["dtype"], raw, shape)
        if got is None:
            skipped.append("%s (%s)" % (t["name"], t["dtype"]))
            continue
        hf, heads = gguf_to_hf(t["name"], model)
        w = state_dict[hf].to(torch.float32).numpy()
        if heads:
            w = rotary_permute(w, heads)
        w = np.ascontiguousarray(w)
        if t["dtype"] == "F32":
            want = w.astype(np.float64)
        elif t["dtype"] == "F16":
            want = w.astype(np.float16).astype(np.float64)
        elif t["dtype"] == "BF16":
            want = f32_to_bf16_rne(w)
        if scale is None:
            bad = np.flatnonzero(got.ravel() != want.ravel())
            check(bad.size == 0, "%s: %s element %d is %r, expected %r (from %s%s)" % (
                tag, t["name"], bad[0] if bad.size else 0, got.ravel()[bad[0]] if bad.size else 0,
                want.ravel()[bad[0]] if bad.size else 0, hf, ", Q/K permuted" if heads else ""))
        else:
            # Q8_0: |err| <= d/2 plus d's own f16 rounding times 127; Q4_0: the clamp at 15 can
            # cost a whole d on the side opposite the block's extreme
            slack = 0.5 + 127 * 2.0 ** -11 if t["dtype"] == "Q8_0" else 1.0 + 16 * 2.0 ** -11
            err = np.abs(got - w) - np.abs(scale) * slack
            i = int(np.argmax(err))
            check(err.ravel()[i] <= 1e-12, "%s: %s element %d dequantizes to %r, weight %r, "
                  "block scale %r (from %s%s)" % (tag, t["name"], i, got.ravel()[i], w.ravel()[i],
                                                  scale.ravel()[i], hf, ", Q/K permuted" if heads else ""))
    return skipped


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--models", default=None)
    ap.add_argument("--outtypes", default=",".join(OUTTYPES))
    args = ap.parse_args()
    require_node_modules()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "gguf_bytes")
    manifest = fixture_manifest(fixtures)
    wanted = set(args.models.split(",")) if args.models else None
    failures = []
    for model in manifest["models"]:
        if wanted and model["name"] not in wanted:
            continue
        src = os.path.join(fixtures, model["path"])
        state_dict = load_hf_state_dict(src)
        for outtype in args.outtypes.split(","):
            tag = "%s/%s" % (model["name"], outtype)
            dst = os.path.join(work, "%s.%s.gguf" % (model["name"], outtype))
            try:
                if os.path.exists(dst):
                    os.remove(dst)
                run([args.lmforge, "convert", src, dst, "--outtype", outtype], timeout=120)
                insp = lmforge_inspect(args.lmforge, dst)
                ref = run_node("gguf_parse.mjs", [dst], timeout=60)
                check(insp.get("format") == "gguf", "%s: inspect format %r" % (tag, insp.get("format")))
                check(insp.get("version") == ref["version"] == 3, "%s: version %r in lmforge, %r in "
                      "@huggingface/gguf" % (tag, insp.get("version"), ref["version"]))
                align = ref["metadata"].get("general.alignment", {"value": 32})["value"]
                check(insp.get("alignment") == align, "%s: alignment %r in lmforge, %r in the file"
                      % (tag, insp.get("alignment"), align))
                compare_metadata(tag, insp.get("metadata", {}), ref["metadata"])
                compare_tensors(tag, insp, ref)
                check_layout(tag, dst, ref)
                check_semantics(tag, model, outtype, ref, fixtures)
                skipped = check_values(tag, model, dst, ref, state_dict)
                print("%-32s %d keys, %d tensors: lmforge inspect == @huggingface/gguf; layout, "
                      "metadata and tensor values match the checkpoint%s"
                      % (tag, len(ref["metadata"]), len(ref["tensors"]),
                         "; values not checked for " + ", ".join(skipped) if skipped else ""),
                      flush=True)
            except CheckFailed as e:
                print("%-32s FAILED: %s" % (tag, e), flush=True)
                failures.append(str(e))
    check(not failures, "%d conversions failed:\n  %s" % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_gguf_bytes", main)
