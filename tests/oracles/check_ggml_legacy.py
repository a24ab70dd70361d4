#!/usr/bin/python3
"""Legacy llama.cpp files ('ggml', 'ggmf' v1, 'ggjt' v1-v3) against an independent writer.

tools/make_ggml_legacy.py writes one tiny random llama in every version x tensor type from the
format description (numpy only; old nibble orders, f32 scales, Q4_2/Q4_3). Then:
  (a) `lmforge inspect --json` reports the container, version, the seven hyperparameters and every
      tensor's stored type id, ne, data offset and size exactly as written;
  (b) `lmforge convert FILE out.gguf` read back by @huggingface/gguf (gguf_parse.mjs) and decoded
      here: hyperparameters (n_ff from n_mult, head_count_kv, rms eps 5e-6, context 2048),
      vocabulary (pieces, scores, token types, bos/eos/unk) and every tensor's values EQUAL the
      writer's own values (old f32 block scales rounded to f16 as the reader documents; Q4_2/Q4_3
      decoded exactly; F16 output compared after the same f16 rounding);
  (c) llama.cpp (node-llama-cpp) on some of those GGUFs against the float64 PyTorch reference
      (torch_reference.py) on the same values, with check_llama_cpp's tolerances;
  (d) `lmforge convert FILE out.bin --to ggml` (ggjt v3) parsed field by field by the spec reader
      here: header, vocabulary text and scores, tensor order, types, ne, 32-byte alignment, zero
      padding, no trailing bytes, values; from a v3 input it is byte-identical to the writer's
      file apart from n_mult (lmforge picks another n_mult with the same n_ff), and
      ggjt v3 -> GGUF -> ggjt v3 is byte-identical;
  (e) damaged files (truncated, absurd n_vocab / n_dims / name_len, tensor past the end, bad type
      id, bad version) make inspect and convert print one error line and exit 1, writing nothing.
"""

import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import make_ggml_legacy as mk  # noqa: E402
from common import CheckFailed, base_args, check, lmforge_inspect, main_wrapper, run, run_node, workdir_for  # noqa: E402

META_TO_GGUF = {"tok_embeddings": "token_embd", "norm": "output_norm", "output": "output",
                "attention.wq": "attn_q", "attention.wk": "attn_k", "attention.wv": "attn_v",
                "attention.wo": "attn_output", "feed_forward.w1": "ffn_gate", "feed_forward.w2": "ffn_down",
                "feed_forward.w3": "ffn_up", "attention_norm": "attn_norm", "ffn_norm": "ffn_norm"}
# Files run through llama.cpp against PyTorch (one per generation and block layout family).
LLAMA_CPP_FILES = {"ggjt-v3-f32.bin": "f32", "ggml-f16.bin": None, "ggjt-v1-q4_0.bin": None,
                   "ggmf-v1-q4_1.bin": None, "ggjt-v2-q8_0.bin": None, "ggjt-v1-q4_3.bin": None}
TOL = {"F32": 1e-4, "F16": 1e-2, "Q8_0": 0.2, "Q4_0": 0.15, "Q4_1": 0.15}


def gguf_name(meta):
    base = meta[:-len(".weight")]
    m = re.match(r"layers\.(\d+)\.(.*)$", base)
    if m:
        return "blk.%s.%s.weight" % (m.group(1), META_TO_GGUF[m.group(2)])
    return META_TO_GGUF[base] + ".weight"


# ---------------------------------------------------------------------------------------------
# today's block layouts (GGUF and ggjt v3), decoded from the spec

def decode(dtype, raw, ne):
    n = int(np.prod(ne))
    if dtype == "F32":
        v = np.frombuffer(raw, "<f4", n)
    elif dtype == "F16":
        v = np.frombuffer(raw, "<f2", n).astype(np.float32)
    elif dtype in ("Q4_0", "Q4_1", "Q8_0"):
        size = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}[dtype]
        b = np.frombuffer(raw, np.uint8, n // 32 * size).reshape(-1, size)
        d = b[:, 0:2].copy().view("<f2").astype(np.float32)
        if dtype == "Q8_0":
            v = b[:, 2:].copy().view(np.int8).astype(np.float32) * d
        else:
            off = 2 if dtype == "Q4_0" else 4
            qs = b[:, off:]
            q = np.concatenate([qs & 0x0F, qs >> 4], 1).astype(np.float32)
            if dtype == "Q4_0":
                v = (q - 8) * d
            else:
                v = q * d + b[:, 2:4].copy().view("<f2").astype(np.float32)
    else:
        raise CheckFailed("cannot decode %s" % dtype)
    return v.reshape(list(reversed(ne)))


def read_gguf(gguf):
    parsed = run_node("gguf_parse.mjs", [gguf])
    with open(gguf, "rb") as f:
        data = f.read()
    base = parsed["tensor_data_offset"]
    tensors = {}
    for t in parsed["tensors"]:
        start = base + t["offset"]
        tensors[t["name"]] = (t["dtype"], t["ne"], decode(t["dtype"], data[start:], t["ne"]))
    return parsed["metadata"], tensors


# ---------------------------------------------------------------------------------------------
# a ggjt v3 reader from the spec (for lmforge's writer)

TYPE_NAME = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0"}
BLOCK = {"F32": (1, 4), "F16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q8_0": (32, 34)}


def parse_ggjt_v3(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, version = struct.unpack_from("<II", data, 0)
    check(magic == mk.MAGIC["ggjt"] and version == 3, "%s: magic %#x version %d, expected ggjt v3" % (path, magic, version))
    hp = dict(zip(["n_vocab", "n_embd", "n_mult", "n_head", "n_layer", "n_rot", "ftype"], struct.unpack_from("<7i", data, 8)))
    pos = 36
    vocab = []
    for _ in range(hp["n_vocab"]):
        (n,) = struct.unpack_from("<I", data, pos)
        text = data[pos + 4:pos + 4 + n]
        (score,) = struct.unpack_from("<f", data, pos + 4 + n)
        vocab.append((text, score))
        pos += 8 + n
    tensors = []
    while pos < len(data):
        n_dims, name_len, type_id = struct.unpack_from("<3i", data, pos)
        ne = list(struct.unpack_from("<%di" % n_dims, data, pos + 12))
        pos += 12 + 4 * n_dims
        name = data[pos:pos + name_len].decode()
        pos += name_len
        pad = (-pos) % 32
        check(data[pos:pos + pad] == b"\0" * pad, "%s: padding before %s is not zeros" % (path, name))
        pos += pad
        check(type_id in TYPE_NAME, "%s: %s has type id %d, not a ggjt v3 type" % (path, name, type_id))
        t = TYPE_NAME[type_id]
        qk, size = BLOCK[t]
        nbytes = int(np.prod(ne)) // qk * size
        check(pos + nbytes <= len(data), "%s: %s runs past the end" % (path, name))
        tensors.append({"name": name, "type": t, "ne": ne, "offset": pos,
                        "values": decode(t, data[pos:pos + nbytes], ne)})
        pos += nbytes
    check(pos == len(data), "%s: %d bytes after the last tensor" % (path, len(data) - pos))
    return hp, vocab, tensors


# ---------------------------------------------------------------------------------------------

def convert(lmforge, src, dst, *extra):
    if os.path.exists(dst):
        os.remove(dst)
    run([lmforge, "convert", src, dst, "--quiet"] + list(extra), timeout=120)
    check(os.path.exists(dst), "lmforge convert exited 0 but %s does not exist" % dst)


def check_inspect(lmforge, f):
    tag = os.path.basename(f["path"])
    info = lmforge_inspect(lmforge, f["path"])
    meta = info["metadata"]
    check(meta["container"] == f["container"], "%s: container %s" % (tag, meta["container"]))
    if f["container"] != "ggml":
        check(meta["version"] == f["version"], "%s: version %s" % (tag, meta["version"]))
    want = dict(mk.HP, ftype=f["ftype"])
    check(meta["hparams"] == want, "%s: hparams %s, written %s" % (tag, meta["hparams"], want))
    stored = meta["stored_tensors"]
    check([s["name"] for s in stored] == list(f["tensors"]), "%s: tensor names/order differ" % tag)
    for s in stored:
        t = f["tensors"][s["name"]]
        got = (s["type"], s["type_id"], s["ne"], s["data_offset"], s["stored_bytes"])
        exp = (t["type"], t["type_id"], t["ne"], t["offset"], t["nbytes"])
        check(got == exp, "%s: %s stored as %s, written %s" % (tag, s["name"], got, exp))
    for t in info["tensors"]:
        w = f["tensors"][t["name"]]
        check(t["shape"] == list(reversed(w["ne"])), "%s: %s shape %s" % (tag, t["name"], t["shape"]))
        want_dtype = "F32" if w["type"] in ("Q4_2", "Q4_3") else w["type"]
        check(t["dtype"] == want_dtype, "%s: %s is %s, expected %s" % (tag, t["name"], t["dtype"], want_dtype))


def expected_gguf_type(f, t):
    if len(t["ne"]) == 1:
        return "F32"
    if t["type"] in ("Q4_0", "Q4_1", "Q8_0"):
        return t["type"]
    return "F16"


def check_gguf(lmforge, f, work, vocab):
    tag = os.path.basename(f["path"])
    out = os.path.join(work, tag + ".gguf")
    convert(lmforge, f["path"], out)
    md, tensors = read_gguf(out)

    def val(key):
        check(key in md, "%s: GGUF has no %s" % (tag, key))
        return md[key]["value"]

    hp = mk.HP
    for key, want in [("llama.vocab_size", hp["n_vocab"]), ("llama.embedding_length", hp["n_embd"]),
                      ("llama.feed_forward_length", mk.N_FF), ("llama.block_count", hp["n_layer"]),
                      ("llama.attention.head_count", hp["n_head"]), ("llama.attention.head_count_kv", hp["n_head"]),
                      ("llama.rope.dimension_count", hp["n_rot"]), ("llama.context_length", 2048),
                      ("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.bos_token_id", 1),
                      ("tokenizer.ggml.eos_token_id", 2), ("tokenizer.ggml.unknown_token_id", 0)]:
        check(val(key) == want, "%s: %s = %r, expected %r" % (tag, key, val(key), want))
    eps = val("llama.attention.layer_norm_rms_epsilon")
    check(abs(eps - 5e-6) < 1e-12, "%s: rms eps %r" % (tag, eps))
    check(val("tokenizer.ggml.tokens") == [p for p, _, _ in vocab], "%s: token pieces differ" % tag)
    want_scores = [0.0 if f["container"] == "ggml" else s for _, s, _ in vocab]
    check(np.array_equal(np.float32(val("tokenizer.ggml.scores")), np.float32(want_scores)), "%s: scores differ" % tag)
    check(val("tokenizer.ggml.token_type") == [t for _, _, t in vocab], "%s: token types differ" % tag)

    check(sorted(tensors) == sorted(gguf_name(n) for n in f["tensors"]), "%s: GGUF tensors %s" % (tag, sorted(tensors)))
    moved = 0.0
    for name, t in f["tensors"].items():
        dtype, ne, values = tensors[gguf_name(name)]
        want_type = expected_gguf_type(f, t)
        check(dtype == want_type, "%s: %s is %s in the GGUF, expected %s" % (tag, name, dtype, want_type))
        check(ne == t["ne"], "%s: %s ne %s, written %s" % (tag, name, ne, t["ne"]))
        want = t["expected"] if dtype != "F16" else mk.f16(t["expected"])
        if not np.array_equal(values, want):
            i = np.unravel_index(np.argmax(np.abs(values - want)), want.shape)
            raise CheckFailed("%s: %s differs at %s: GGUF %r, written %r (stored %r)"
                              % (tag, name, list(i), values[i], want[i], t["stored"][i]))
        moved = max(moved, float(np.max(np.abs(t["expected"] - t["stored"]))))
        if t["type"] in ("Q4_0", "Q4_1") and (f["container"] != "ggjt" or f["version"] < 2):
            # Self-test: a reader that took the old paired nibbles for today's split order would
            # give these values; the comparison above must be able to tell.
            blocks = t["expected"].reshape(-1, 32)
            wrong = np.concatenate([blocks[:, 0::2], blocks[:, 1::2]], 1).reshape(want.shape)
            check(not np.array_equal(values, wrong), "%s: %s cannot tell the nibble orders apart" % (tag, name))
    if f["type"] in ("Q4_2", "Q4_3"):  # and exactly, without the F16 rounding
        out32 = os.path.join(work, tag + ".f32.gguf")
        convert(lmforge, f["path"], out32, "--outtype", "f32")
        _, t32 = read_gguf(out32)
        for name, t in f["tensors"].items():
            check(np.array_equal(t32[gguf_name(name)][2], t["expected"]), "%s: %s (F32 output) differs" % (tag, name))
    return out, moved


def check_llama_cpp(f, gguf, work, ids, outtype_note):
    """llama.cpp on the converted GGUF against float64 PyTorch on the same weights."""
    from check_llama_cpp import Distance, Reference, activation_rounding
    tag = os.path.basename(f["path"])
    _, tensors = read_gguf(gguf)
    weights, types = {}, {}
    for name in f["tensors"]:
        dtype, _, values = tensors[gguf_name(name)]
        weights[name] = values
        types[name] = dtype
    folder = os.path.join(work, tag + ".reference-hf")
    mk.write_hf_reference(folder, weights)
    hf_types = {mk.hf_name(n): t for n, t in types.items()}
    act = activation_rounding({k: ("Q8_0" if v == "Q4_1" else v) for k, v in hf_types.items()})
    ref = Reference(folder, ids, act)
    req = os.path.join(work, tag + ".request.json")
    with open(req, "w") as fh:
        json.dump({"prompts": ["p%d" % i for i in range(len(ids))], "ids": ids, "generate": 1, "probabilities": True}, fh)
    out = run_node("llama_cpp.mjs", [gguf, req])
    check(out["vocab_size"] == mk.HP["n_vocab"], "%s: llama.cpp sees %s tokens" % (tag, out["vocab_size"]))
    probs = [np.array(r["probs"], dtype=np.float64) for r in out["results"]]
    dist = Distance(probs, ref)
    main_type = max((t for n, t in types.items() if len(f["tensors"][n]["ne"]) == 2), key=lambda t: sum(
        1 for n in types if types[n] == t))
    tol = TOL[main_type]
    print("  (c) %s -> GGUF %s%s: llama.cpp vs PyTorch float64: %s (tolerance %g)"
          % (tag, main_type, outtype_note, dist.summary(), tol), flush=True)
    check(dist.worst <= tol, "%s: llama.cpp differs from the PyTorch reference by %.3g > %g" % (tag, dist.worst, tol))


def check_ggjt_writer(lmforge, f, work, vocab):
    tag = os.path.basename(f["path"])
    out = os.path.join(work, tag + ".ggjt3.bin")
    convert(lmforge, f["path"], out, "--to", "ggml")
    hp, got_vocab, tensors = parse_ggjt_v3(out)
    for k in ("n_vocab", "n_embd", "n_head", "n_layer", "n_rot"):
        check(hp[k] == mk.HP[k], "%s -> ggjt: %s = %d, expected %d" % (tag, k, hp[k], mk.HP[k]))
    n_ff = (2 * (4 * hp["n_embd"]) // 3 + hp["n_mult"] - 1) // hp["n_mult"] * hp["n_mult"]
    check(n_ff == mk.N_FF, "%s -> ggjt: n_mult %d gives n_ff %d, not %d" % (tag, hp["n_mult"], n_ff, mk.N_FF))
    want_vocab = [(mk.legacy_text(p, t), 0.0 if f["container"] == "ggml" else s) for p, s, t in vocab]
    check([(t, np.float32(s)) for t, s in got_vocab] == [(t, np.float32(s)) for t, s in want_vocab],
          "%s -> ggjt: vocabulary differs" % tag)
    check([t["name"] for t in tensors] == list(f["tensors"]), "%s -> ggjt: tensor order %s" % (tag, [t["name"] for t in tensors]))
    main = None
    for t in tensors:
        w = f["tensors"][t["name"]]
        want_type = {"Q4_2": "F32", "Q4_3": "F32"}.get(w["type"], w["type"])
        check(t["type"] == want_type and t["ne"] == w["ne"], "%s -> ggjt: %s is %s %s, expected %s %s"
              % (tag, t["name"], t["type"], t["ne"], want_type, w["ne"]))
        check(t["offset"] % 32 == 0, "%s -> ggjt: %s data at %d, not 32-aligned" % (tag, t["name"], t["offset"]))
        check(np.array_equal(t["values"], w["expected"]), "%s -> ggjt: %s values differ" % (tag, t["name"]))
        if len(t["ne"]) == 2:
            main = t["type"]
    check(hp["ftype"] == mk.FTYPE[main], "%s -> ggjt: ftype %d, expected %d" % (tag, hp["ftype"], mk.FTYPE[main]))
    with open(out, "rb") as fh:
        ours = fh.read()
    identical = None
    if f["container"] == "ggjt" and f["version"] == 3:
        with open(f["path"], "rb") as fh:
            theirs = fh.read()
        masked = lambda b: b[:16] + b"\0" * 4 + b[20:]  # noqa: E731  (n_mult)
        check(masked(ours) == masked(theirs), "%s -> ggjt: not the writer's bytes (apart from n_mult)" % tag)
        identical = "byte-identical to the Python writer's file apart from n_mult (%d vs %d)" % (
            hp["n_mult"], mk.HP["n_mult"])
    # ggjt v3 -> GGUF -> ggjt v3
    g = out + ".gguf"
    convert(lmforge, out, g, *(["--outtype", "f32"] if main == "F32" else []))
    again = out + ".again.bin"
    convert(lmforge, g, again, "--to", "ggml")
    with open(again, "rb") as fh:
        check(fh.read() == ours, "%s: ggjt v3 -> GGUF -> ggjt v3 is not byte-identical" % tag)
    return identical


def damaged_files(files, work):
    """(label, path) of damaged copies of two fixture files."""
    by = {os.path.basename(f["path"]): f for f in files}
    out = []

    def variant(label, src, edit):
        with open(by[src]["path"], "rb") as fh:
            data = bytearray(fh.read())
        data = edit(data, by[src])
        p = os.path.join(work, "bad-%s.bin" % label)
        with open(p, "wb") as fh:
            fh.write(data)
        out.append((label, p))

    def first(f):
        return next(iter(f["tensors"].values()))

    def put(data, off, fmt, *v):
        struct.pack_into(fmt, data, off, *v)
        return data

    variant("truncated-header", "ggjt-v3-q4_0.bin", lambda d, f: d[:20])
    variant("truncated-vocab", "ggmf-v1-f16.bin", lambda d, f: d[:500])
    variant("truncated-data", "ggjt-v3-q4_0.bin", lambda d, f: d[:-7])
    variant("n_vocab-absurd", "ggjt-v1-q4_2.bin", lambda d, f: put(d, 8, "<i", 0x7FFFFFFF))
    variant("n_vocab-negative", "ggml-f32.bin", lambda d, f: put(d, 4, "<i", -5))
    variant("n_dims-absurd", "ggjt-v2-q8_0.bin", lambda d, f: put(d, first(f)["record"], "<i", 7))
    variant("name_len-absurd", "ggjt-v3-f16.bin", lambda d, f: put(d, first(f)["record"] + 4, "<i", 0x7FFFFFFF))
    variant("tensor-past-eof", "ggjt-v3-f32.bin", lambda d, f: put(d, first(f)["record"] + 16, "<i", 0x40000000))
    variant("type-unknown", "ggjt-v3-q8_0.bin", lambda d, f: put(d, first(f)["record"] + 8, "<i", 99))
    variant("q4_2-in-v3", "ggjt-v3-q4_0.bin", lambda d, f: put(d, first(f)["record"] + 8, "<i", 4))
    variant("version-4", "ggjt-v3-f16.bin", lambda d, f: put(d, 4, "<I", 4))
    variant("n_embd-not-heads", "ggjt-v3-f16.bin", lambda d, f: put(d, 12, "<i", 33))
    return out


def check_bad(lmforge, files, work):
    n = 0
    for label, path in damaged_files(files, work):
        for cmd in (["inspect", path], ["convert", path, path + ".gguf"], ["convert", path, path + ".ggjt", "--to", "ggml"]):
            r = subprocess.run([lmforge] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            err = r.stderr.decode(errors="replace").strip().splitlines()
            check(r.returncode == 1, "(e) %s: %s exited %d, expected 1 (stderr %s)" % (label, cmd[0], r.returncode, err))
            check(len(err) == 1 and err[0].startswith("lmforge: error: %s: " % path),
                  "(e) %s: %s printed %r, expected one 'lmforge: error: FILE: ...' line" % (label, cmd[0], err))
            for leftover in (path + ".gguf", path + ".ggjt"):
                check(not os.path.exists(leftover), "(e) %s: %s left %s behind" % (label, cmd[0], leftover))
            n += 1
        print("  (e) %-18s %s" % (label, err[0][len("lmforge: error: ") + len(path) + 2:]), flush=True)
    return n


def main():
    args = base_args(__doc__.splitlines()[0]).parse_args()
    work = workdir_for(args, "ggml_legacy")
    fixtures = os.path.join(work, "fixtures")
    gen = mk.generate(fixtures, reference=False)
    files, vocab = gen["files"], gen["vocab"]
    print("wrote %d legacy files with tools/make_ggml_legacy.py" % len(files), flush=True)

    for f in files:
        check_inspect(args.lmforge, f)
    print("(a) inspect --json: container, version, hparams, stored type/ne/offset/size of every tensor "
          "match the writer in all %d files" % len(files), flush=True)

    ggufs = {}
    for f in files:
        ggufs[os.path.basename(f["path"])], moved = check_gguf(args.lmforge, f, work, vocab)
        note = " (f32 scales -> f16 moved values by up to %.2e)" % moved if moved else ""
        print("  (b) %-18s -> GGUF: hparams, vocab, %d tensors equal%s" % (os.path.basename(f["path"]), len(f["tensors"]), note), flush=True)
    print("(b) convert to GGUF: every value equals the writer's in all %d files" % len(files), flush=True)

    rng = np.random.default_rng(7)
    ids = [[1] + [int(x) for x in rng.integers(3, mk.HP["n_vocab"], n)] for n in (7, 12, 16)]
    for f in files:
        name = os.path.basename(f["path"])
        if name in LLAMA_CPP_FILES:
            gguf = ggufs[name]
            note = ""
            if LLAMA_CPP_FILES[name] == "f32":
                gguf = os.path.join(work, name + ".f32.gguf")
                convert(args.lmforge, f["path"], gguf, "--outtype", "f32")
                note = " (--outtype f32)"
            check_llama_cpp(f, gguf, work, ids, note)
    print("(c) llama.cpp loads the converted GGUFs and matches PyTorch float64 within tolerance", flush=True)

    for f in files:
        same = check_ggjt_writer(args.lmforge, f, work, vocab)
        print("  (d) %-18s -> ggjt v3: fields and values right, -> GGUF -> ggjt v3 byte-identical%s"
              % (os.path.basename(f["path"]), "; " + same if same else ""), flush=True)
    print("(d) ggjt v3 writer: all %d files" % len(files), flush=True)

    n = check_bad(args.lmforge, files, work)
    print("(e) %d damaged-file runs: one clean error line, exit 1, no output" % n, flush=True)


if __name__ == "__main__":
    main_wrapper("check_ggml_legacy", main)
