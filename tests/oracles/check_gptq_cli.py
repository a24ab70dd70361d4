#!/usr/bin/python3
"""`lmforge gptq` as a command, on the committed demo model (models/demo) with Brown text:

- the folder: files, quantize_config.json, config.json's quantization_config, every tensor's
  name, dtype and shape for the AutoGPTQ layout;
- the packing, read back with numpy code written here from the checkpoint description
  (little-endian bit streams along K for qweight and along N for qzeros, v1 zero points stored
  minus one): RTN folders at 4 bits (asym, g64) and 3 bits (sym, g32) must hold exactly the
  codes, scales and zero points that gptq_reference.rtn computes from the demo's weights
  (codes away from .5 ties; scales to f16 precision);
- the reconstruction error: layer 0's q/k/v inputs recomputed here from the embeddings
  (RMSNorm of the calibration windows' embeddings), ||W X - Q X|| / ||W X|| with Q dequantized
  from the folder, must agree with what the tool reports, and GPTQ must beat RTN, per linear
  and on average over the model;
- act-order: g_idx is a grouping of the columns into equal groups, not the trivial one;
- bad input: a calibration text shorter than one window, --bits 5, a --group-size that does
  not divide the rows, a model with a NaN weight, an existing output: one error line each,
  nothing left behind;
- `-o X.gguf`: 4-bit g64 gives Q4_1 linears holding the folder's weights (decoded here from
  the Q4_1 layout; only m's fp16 rounding differs), the summary names the mapping, no temporary
  folder is left; 3-bit gives F16 linears.
"""

import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import gptq_reference as ref  # noqa: E402
from common import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(REPO, "models", "demo")
SLOTS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
SHORT = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v"}
NSAMPLES, SEQLEN = 8, 128


def unpack(words, count, bits):
    """Codes [count, M] from int32 words [count * bits / 32, M] packed along axis 0: each column's
    words form one little-endian bit stream, code j in stream bits [j * bits, (j + 1) * bits)."""
    w = np.ascontiguousarray(words.astype(np.int64).astype("<u4").T)  # [M, n_words]
    stream = np.unpackbits(w.view(np.uint8).reshape(w.shape[0], -1), axis=1, bitorder="little")
    stream = stream[:, :count * bits].reshape(w.shape[0], count, bits).astype(np.int64)
    return (stream << np.arange(bits)).sum(axis=2).T


def read_folder(folder, cfg, bits):
    sd, meta = common.read_safetensors(os.path.join(folder, "model.safetensors"))
    sd = {k: v.numpy() for k, v in sd.items()}
    return sd, meta


def dequantize(sd, prefix, bits):
    qweight, qzeros = sd[prefix + "qweight"], sd[prefix + "qzeros"]
    scales, g_idx = sd[prefix + "scales"].astype(np.float64), sd[prefix + "g_idx"]
    k = g_idx.shape[0]
    n = scales.shape[1]
    codes = unpack(qweight, k, bits)                  # [K, N]
    zfield = unpack(qzeros.T, n, bits).T              # [G, N], stored zero - 1
    zeros = zfield + 1                                # as every v1 reader reads them
    w = scales[g_idx] * (codes - zeros[g_idx])        # [K, N]
    return dict(codes=codes.T, zfield=zfield, scales=scales, g_idx=g_idx, w=w.T)


def run_gptq(args, out, extra, expect_ok=True):
    cmd = [args.lmforge, "gptq", "-m", DEMO, "--calib", args.calib, "-o", out, "--nsamples", str(NSAMPLES),
           "--seqlen", str(SEQLEN), "-t", "2", "--json"] + extra
    r = common.run(cmd, timeout=600, check_rc=expect_ok)
    if not expect_ok:
        return r
    return json.loads(r.stdout)


def check_layout(folder, cfg, bits, gs, act, sym):
    files = sorted(os.listdir(folder))
    for f in ("config.json", "quantize_config.json", "model.safetensors", "tokenizer.model",
              "tokenizer_config.json", "special_tokens_map.json"):
        check(f in files, "%s: %s missing (has %s)" % (folder, f, files))
    with open(os.path.join(folder, "quantize_config.json")) as f:
        qc = json.load(f)
    want = {"bits": bits, "group_size": gs, "desc_act": act, "sym": sym, "checkpoint_format": "gptq",
            "quant_method": "gptq", "true_sequential": True, "static_groups": False, "damp_percent": 0.01}
    for k, v in want.items():
        check(qc.get(k) == v, "%s: quantize_config %s = %r, expected %r" % (folder, k, qc.get(k), v))
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    check(c.get("quantization_config") == qc, "config.json's quantization_config differs from quantize_config.json")
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "vocab_size", "tie_word_embeddings"):
        check(c.get(k) == cfg[k], "config.json %s = %r, the demo has %r" % (k, c.get(k), cfg[k]))
    sd, meta = read_folder(folder, cfg, bits)
    check(meta and meta.get("format") == "pt", "safetensors metadata lacks format=pt: %r" % meta)
    hidden, ff = cfg["hidden_size"], cfg["intermediate_size"]
    hd = hidden // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    shapes = {"self_attn.q_proj": (hidden, hidden), "self_attn.k_proj": (kv, hidden), "self_attn.v_proj": (kv, hidden),
              "self_attn.o_proj": (hidden, hidden), "mlp.gate_proj": (ff, hidden), "mlp.up_proj": (ff, hidden),
              "mlp.down_proj": (hidden, ff)}
    expected = {"model.embed_tokens.weight": ("<f2", (cfg["vocab_size"], hidden)), "model.norm.weight": ("<f2", (hidden,))}
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        expected[p + "input_layernorm.weight"] = ("<f2", (hidden,))
        expected[p + "post_attention_layernorm.weight"] = ("<f2", (hidden,))
        for s in SLOTS:
            n, k = shapes[s]
            g = 1 if gs == -1 else k // gs
            expected[p + s + ".qweight"] = ("<i4", (k * bits // 32, n))
            expected[p + s + ".qzeros"] = ("<i4", (g, n * bits // 32))
            expected[p + s + ".scales"] = ("<f2", (g, n))
            expected[p + s + ".g_idx"] = ("<i4", (k,))
    check(set(sd) == set(expected), "tensor names differ: extra %s, missing %s"
          % (sorted(set(sd) - set(expected))[:5], sorted(set(expected) - set(sd))[:5]))
    for name, (dt, shape) in expected.items():
        check(sd[name].dtype == np.dtype(dt) and tuple(sd[name].shape) == shape,
              "%s: %s %s, expected %s %s" % (name, sd[name].dtype, sd[name].shape, dt, shape))
    return sd


def check_rtn_codes(sd, demo, bits, gs, sym, label):
    """Every linear's packed codes, scales and zeros against gptq_reference.rtn on the demo weights."""
    total = differ = 0
    for name in sorted(demo):
        if not name.endswith("_proj.weight"):
            continue
        w = demo[name].astype(np.float64)
        r = ref.rtn(w, bits, gs, sym)
        d = dequantize(sd, name[:-len("weight")], bits)
        check(np.array_equal(d["g_idx"], r["g_idx"]), "%s %s: g_idx is not k // group_size" % (label, name))
        pre = w / r["scales"][r["g_idx"]].T
        diff = d["codes"] != r["codes"]
        near = np.abs(pre - np.floor(pre) - 0.5) < 2e-3
        # a zero point that is itself a tie (round(-xmin / scale) at .5) shifts its whole group
        gsz = w.shape[1] if gs == -1 else gs
        lo = np.minimum(w.reshape(w.shape[0], -1, gsz).min(axis=2), 0.0).T  # [G, rows]
        zpre = -lo / r["scales"]
        zero_tie = (np.abs(zpre - np.floor(zpre) - 0.5) < 2e-3) if not sym else np.zeros_like(zpre, dtype=bool)
        near |= zero_tie[r["g_idx"]].T
        check(not (diff & ~near).any(), "%s %s: %d codes differ from the reference away from a .5 tie"
              % (label, name, (diff & ~near).sum()))
        maxq = 2 ** bits - 1
        want_field = (r["zeros"].astype(np.int64) - 1) & maxq
        check(np.array_equal(d["zfield"][~zero_tie], want_field[~zero_tie]), "%s %s: stored zero points differ" % (label, name))
        rel = np.abs(d["scales"] - r["scales"]) / r["scales"]  # f16 storage
        check(rel.max() < 1e-3, "%s %s: scales differ by %.2g (relative, f16)" % (label, name, rel.max()))
        total += diff.size
        differ += diff.sum()
    print("%s: packed codes read back equal the reference RTN codes for %.4f %% of %d weights (the rest at .5 ties of the code or the zero point)"
          % (label, 100 * (1 - differ / total), total), flush=True)


def layer0_inputs(demo, cfg, tokenizer, text):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
    ids = [sp.bos_id()] + sp.encode(text)
    n = min(len(ids) // SEQLEN, NSAMPLES)
    wins = [ids[i * SEQLEN:(i + 1) * SEQLEN] for i in range(n)]
    for w in wins:
        w[0] = sp.bos_id()
    emb = demo["model.embed_tokens.weight"].astype(np.float64)[np.array(wins).reshape(-1)]
    norm = demo["model.layers.0.input_layernorm.weight"].astype(np.float64)
    return emb / np.sqrt(np.mean(emb ** 2, axis=1, keepdims=True) + cfg["rms_norm_eps"]) * norm


def layer0_errors(sd, demo, x, bits, report):
    out = {}
    for s in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
        p = "model.layers.0." + s + "."
        w = demo[p + "weight"].astype(np.float64)
        q = dequantize(sd, p, bits)["w"]
        e = ref.relative_error(w, q, x)
        told = next(li["relative_error"] for li in report["layers"][0]["linears"] if li["name"] == SHORT[s])
        check(abs(e - told) <= 0.02 * e + 1e-6, "layer 0 %s: error %.5f from the folder, the tool reported %.5f" % (s, e, told))
        out[s] = e
    return out


def check_bad_inputs(args, work):
    parent = os.path.join(work, "bad")
    shutil.rmtree(parent, ignore_errors=True)
    os.makedirs(parent)
    short = os.path.join(parent, "short.txt")
    with open(short, "w") as f:
        f.write("Too short to fill a window.\n")
    nan_model = os.path.join(parent, "nan-model")
    shutil.copytree(DEMO, nan_model)
    st = os.path.join(nan_model, "model.safetensors")
    with open(st, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        b, _ = header["model.layers.2.mlp.up_proj.weight"]["data_offsets"]
        f.seek(8 + n + b + 2 * 1000)
        f.write(struct.pack("<H", 0x7E00))  # f16 NaN
    cases = [
        ("short text", ["-m", DEMO, "--calib", short, "--group-size", "64"], "fewer than one window"),
        ("--bits 5", ["-m", DEMO, "--calib", args.calib, "--bits", "5", "--group-size", "64"], "--bits 5"),
        ("--group-size 100", ["-m", DEMO, "--calib", args.calib, "--group-size", "100"], "does not divide"),
        ("NaN weight", ["-m", nan_model, "--calib", args.calib, "--group-size", "64"], "blk.2.ffn_up.weight"),
    ]
    for label, flags, needle in cases:
        out = os.path.join(parent, "out")
        r = common.run([args.lmforge, "gptq"] + flags + ["-o", out, "--seqlen", str(SEQLEN), "--nsamples", "2", "-q"],
                       timeout=300, check_rc=False)
        err = r.stderr.decode(errors="replace").strip().splitlines()
        check(r.returncode != 0, "%s: exit status 0" % label)
        check(len(err) == 1 and err[0].startswith("lmforge: error:") and needle in err[0],
              "%s: expected one error line mentioning %r, got %r" % (label, needle, err))
        left = sorted(set(os.listdir(parent)) - {"short.txt", "nan-model"})
        check(not left, "%s: left behind %s" % (label, left))
        print("bad input %-18s -> %s" % (label, err[0]), flush=True)
    # an existing output is refused without --force
    os.makedirs(os.path.join(parent, "exists"))
    r = common.run([args.lmforge, "gptq", "-m", DEMO, "--calib", args.calib, "-o", os.path.join(parent, "exists"), "-q"],
                   check_rc=False)
    check(r.returncode != 0 and os.listdir(os.path.join(parent, "exists")) == [], "an existing output was not refused")


def main():
    p = common.base_args(__doc__)
    args = p.parse_args()
    work = common.workdir_for(args, "gptq_cli")
    args.calib = os.path.join(work, "calib.txt")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "brown_text.py"), "--split", "train", "--out",
                    os.path.join(work, "brown.txt")], check=True)
    with open(os.path.join(work, "brown.txt")) as f:
        text = f.read()[:40000]
    with open(args.calib, "w") as f:
        f.write(text)
    cfg = common.load_hf_config(DEMO)
    demo = {k: v.numpy() for k, v in common.read_safetensors(os.path.join(DEMO, "model.safetensors"))[0].items()}
    x0 = layer0_inputs(demo, cfg, os.path.join(DEMO, "tokenizer.model"), text)

    runs = {}
    for label, bits, gs, act, sym, rtn in [("gptq4", 4, 64, False, False, False), ("rtn4", 4, 64, False, False, True),
                                           ("rtn3", 3, 32, False, True, True), ("gptq2act", 2, 64, True, True, False)]:
        out = os.path.join(work, label)
        shutil.rmtree(out, ignore_errors=True)
        extra = ["--bits", str(bits), "--group-size", str(gs)] + (["--act-order"] if act else []) + \
                (["--sym"] if sym else []) + (["--rtn"] if rtn else [])
        rep = run_gptq(args, out, extra)
        check(rep["method"] == ("rtn" if rtn else "gptq") and rep["windows"] == NSAMPLES and len(rep["layers"]) == 4,
              "%s: --json summary %r" % (label, {k: rep[k] for k in ("method", "windows")}))
        sd = check_layout(out, cfg, bits, gs, act, sym)
        runs[label] = (rep, sd)
        print("%-9s %.1f s, mean relative error %.5f, max %.5f" % (label, rep["seconds"], rep["mean_relative_error"],
                                                                   rep["max_relative_error"]), flush=True)

    check_rtn_codes(runs["rtn4"][1], demo, 4, 64, False, "rtn4 asym g64")
    check_rtn_codes(runs["rtn3"][1], demo, 3, 32, True, "rtn3 sym g32")
    eg = layer0_errors(runs["gptq4"][1], demo, x0, 4, runs["gptq4"][0])
    er = layer0_errors(runs["rtn4"][1], demo, x0, 4, runs["rtn4"][0])
    for s in eg:
        check(eg[s] < er[s], "layer 0 %s: GPTQ error %.5f is not below RTN's %.5f" % (s, eg[s], er[s]))
        print("layer 0 %-17s error from the folder: GPTQ %.5f < RTN %.5f" % (s, eg[s], er[s]), flush=True)
    check(runs["gptq4"][0]["mean_relative_error"] < runs["rtn4"][0]["mean_relative_error"], "GPTQ's mean error is not below RTN's")
    for l, (lg, lr) in enumerate(zip(runs["gptq4"][0]["layers"], runs["rtn4"][0]["layers"])):
        for a, b in zip(lg["linears"], lr["linears"]):
            check(a["relative_error"] < b["relative_error"], "layer %d %s: GPTQ %.5f not below RTN %.5f"
                  % (l, a["name"], a["relative_error"], b["relative_error"]))

    # act-order: each group holds exactly group_size columns, and the grouping is not k // 64
    sd = runs["gptq2act"][1]
    for name in sd:
        if name.endswith(".g_idx"):
            g = sd[name]
            counts = np.bincount(g)
            check((counts == 64).all(), "%s: groups of sizes %s" % (name, sorted(set(counts.tolist()))))
            check(not np.array_equal(g, np.arange(g.size) // 64), "%s: act-order g_idx is the trivial one" % name)
            zf = dequantize(sd, name[:-len("g_idx")], 2)["zfield"]
            check((zf == 1).all(), "%s: symmetric 2-bit zero points must be stored as 1 (zero 2, minus one)" % name)
    check_bad_inputs(args, work)
    check_gguf_output(args, work, runs["gptq4"][1])


def q4_1_rows(data, rows, cols):
    """Q4_1 blocks (f16 d, f16 m, 16 bytes: element j low nibble of byte j, j + 16 high) as floats."""
    blocks = np.frombuffer(data, dtype=np.uint8).reshape(rows, cols // 32, 20)
    d = blocks[:, :, 0:2].copy().view(np.float16).astype(np.float64)
    m = blocks[:, :, 2:4].copy().view(np.float16).astype(np.float64)
    qs = blocks[:, :, 4:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2).astype(np.float64)
    return (d * q + m).reshape(rows, cols)


def check_gguf_output(args, work, folder_sd):
    """-o X.gguf: 4-bit g64 maps onto Q4_1 blocks that hold the folder's weights (up to m's fp16
    rounding), the summary says so, and no temporary folder is left; 3-bit goes to F16."""
    out = os.path.join(work, "gptq4.gguf")
    if os.path.exists(out):
        os.remove(out)
    rep = run_gptq(args, out, ["--bits", "4", "--group-size", "64"])
    check("Q4_1" in rep.get("gguf_mapping", ""), "gguf_mapping: %r" % rep.get("gguf_mapping"))
    left = [f for f in os.listdir(work) if ".gptq-folder." in f]
    check(not left, "temporary folders left behind: %s" % left)
    info = common.lmforge_inspect(args.lmforge, out)
    tensors = {t["name"]: t for t in info["tensors"]}
    for name, t in tensors.items():
        if name.startswith("blk.") and len(t["shape"]) == 2:
            check(t["dtype"] == "Q4_1", "%s is %s in the GGUF, expected Q4_1" % (name, t["dtype"]))
    t = tensors["blk.1.ffn_down.weight"]
    rows, cols = t["shape"]
    with open(out, "rb") as f:
        f.seek(t["offset"])
        w = q4_1_rows(f.read(t["bytes"]), rows, cols)
    ref = dequantize(folder_sd, "model.layers.1.mlp.down_proj.", 4)["w"]
    worst = float(np.abs(w - ref).max())
    check(worst <= 2e-3 * float(np.abs(ref).max()), "blk.1.ffn_down in the GGUF differs from the folder's weights by %g" % worst)
    print("gguf output: every linear Q4_1; blk.1.ffn_down within %.2g of the folder's dequantized weights" % worst, flush=True)
    out3 = os.path.join(work, "gptq3.gguf")
    if os.path.exists(out3):
        os.remove(out3)
    rep = run_gptq(args, out3, ["--bits", "3", "--group-size", "64"])
    check("F16" in rep.get("gguf_mapping", ""), "3-bit gguf_mapping: %r" % rep.get("gguf_mapping"))
    types = {t["dtype"] for t in common.lmforge_inspect(args.lmforge, out3)["tensors"] if t["name"].startswith("blk.") and len(t["shape"]) == 2}
    check(types == {"F16"}, "3-bit GGUF linears are %s, expected F16" % types)


if __name__ == "__main__":
    common.main_wrapper("check_gptq_cli", main)
