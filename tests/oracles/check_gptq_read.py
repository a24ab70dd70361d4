#!/usr/bin/python3
"""Reading, running and converting GPTQ checkpoint folders, against an independent writer
(gptq_writer.py, numpy, from the format notes), PyTorch float64 and llama.cpp.

Per variant (bits 2/3/4/8, group sizes 32/64/-1, act-order permutations, sym/asym, v1/v2 zero
points, the config in quantize_config.json / quant_config.json / config.json, weights in
model.safetensors or AutoGPTQ's gptq_model-4bit-64g.safetensors), written from a
fixture model by gptq_writer.py together with the folder of the weights a reader must see:
  1. `lmforge logits --reference` on the GPTQ folder vs torch_reference.py on the dequantized
     folder: max |dp| <= --tol-ref (float32 vs float64 only: the weights are exact);
  2. `lmforge logits` (fast engine: GPTQ kernel form, 8-bit activations) on the folder: max
     |dp| <= --tol-act8 and top-1 agreement >= 90 % (as oracle.forward for q4_0);
  3. `lmforge inspect --json` reports the writer's bits, group size, desc_act, sym and format;
  4. `lmforge convert FOLDER X.gguf`: linears are Q4_1 where the mapping is exact (4 bits,
     groups of whole 32-blocks in input order), F16 otherwise; the weights read back from the
     GGUF differ from the folder's by at most the fp16 rounding of Q4_1's m (2^-11 |m|, <= 2^-7
     of the largest weight) or of each F16 weight (2^-11); llama.cpp's probabilities on that
     GGUF vs the float64 reference: max |dp| <= --tol-llama (Q4_1: llama.cpp rounds the
     activations to 8 bits) or --tol-llama-f16, top-1 >= 90 %.
Self-test: the comparison of (1) must FAIL for an asymmetric v1 folder read as v2 (zero points
off by one; a symmetric one is refused: every stored zero is the other format's)
and for an act-order folder whose g_idx is replaced by consecutive groups.
Bad folders (one per defect: wrong dtypes and shapes, g_idx out of range or overfull groups,
NaN scales, truncated safetensors, unknown bits or format, a non-zero bias, a missing tensor,
symmetric v1 zero points under a gptq_v2 label):
`lmforge logits` and `lmforge convert` exit 1 with one `lmforge: error:` line that names the
problem, and convert leaves no output file.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    load_hf_state_dict, main_wrapper, read_safetensors, run, run_node, sentencepiece_ids,
                    workdir_for)
from gptq_writer import LINEARS, write_safetensors  # noqa: E402
from torch_reference import Llama  # noqa: E402

WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gptq_writer.py")
N_PROMPTS = 3

# name, fixture model, gptq_writer.py arguments, GGUF type of the converted linears
VARIANTS = [
    ("b4-g32-sym-v1", "mha-safetensors", ["--bits", "4", "--group-size", "32"], "Q4_1"),
    ("b4-g32-asym-actorder-v1", "gqa-safetensors-sharded",
     ["--bits", "4", "--group-size", "32", "--asym", "--act-order"], "F16"),
    ("b4-g64-asym-v1-autogptq-name", "tied-bin",
     ["--bits", "4", "--group-size", "64", "--asym", "--autogptq-name"], "Q4_1"),
    ("b4-rowwise-sym-v2-configjson", "gqa-bin-sharded",
     ["--bits", "4", "--group-size", "-1", "--format", "gptq_v2", "--config", "config"], "Q4_1"),
    ("b3-g32-asym-v2", "gqa-safetensors-sharded",
     ["--bits", "3", "--group-size", "32", "--asym", "--format", "gptq_v2"], "F16"),
    ("b3-g32-asym-actorder-v1-quantconfig", "mha-safetensors",
     ["--bits", "3", "--group-size", "32", "--asym", "--act-order", "--config", "quant_config"], "F16"),
    ("b2-g32-sym-actorder-v1", "gqa-bin-sharded", ["--bits", "2", "--group-size", "32", "--act-order"], "F16"),
    ("b8-g32-asym-v1", "mha-safetensors", ["--bits", "8", "--group-size", "32", "--asym"], "F16"),
]


def softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def lmforge_probs(lmforge, model, ids, vocab, extra):
    r = run([lmforge, "logits", "-m", model, "--ids", ",".join(map(str, ids)), "--all"] + extra, timeout=300)
    logits = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
    check(logits.shape == (len(ids), vocab) and np.all(np.isfinite(logits)),
          "%s: lmforge logits has shape %s or non-finite values" % (model, logits.shape))
    return softmax(logits)


def distance(probs, ref):
    worst, agree, total = 0.0, 0, 0
    for p, q in zip(probs, ref):
        worst = max(worst, float(np.abs(p - q).max()))
        agree += int(np.sum(p.argmax(-1) == q.argmax(-1)))
        total += p.shape[0]
    return worst, agree / total


def write_variant(src, out, deq, args):
    for d in (out, deq):
        shutil.rmtree(d, ignore_errors=True)
    run([sys.executable, WRITER, src, out, "--dequantized", deq] + args, timeout=300)


def gguf_linear_types(lmforge, gguf):
    r = run([lmforge, "inspect", gguf, "--json"])
    types = {t["name"]: t["dtype"] for t in json.loads(r.stdout)["tensors"]}
    return {types[n] for n in types if n.startswith("blk.") and n.endswith(".weight") and "norm" not in n}


def llama_cpp_probs(gguf, work, ids, vocab):
    req = os.path.join(work, os.path.basename(gguf) + ".request.json")
    with open(req, "w") as f:
        json.dump({"prompts": PROMPTS[:len(ids)], "ids": ids, "generate": 0, "probabilities": True}, f)
    out = run_node("llama_cpp.mjs", [gguf, req])
    check(out["vocab_size"] == vocab, "%s: llama.cpp sees %s tokens" % (gguf, out["vocab_size"]))
    return [np.array(r["probs"], dtype=np.float64) for r in out["results"]]


def edit_json(path, **changes):
    with open(path) as f:
        j = json.load(f)
    j.update(changes)
    with open(path, "w") as f:
        json.dump(j, f)


def config_file(folder):
    for n in ("quantize_config.json", "quant_config.json"):
        if os.path.exists(os.path.join(folder, n)):
            return os.path.join(folder, n)
    return None


def edit_tensors(folder, fn):
    """Rewrites folder/model.safetensors with fn(dict of numpy arrays) applied."""
    path = os.path.join(folder, "model.safetensors")
    sd, meta = read_safetensors(path)
    arrays = {k: v.numpy().copy() for k, v in sd.items()}
    fn(arrays)
    write_safetensors(path, list(arrays.items()), meta)


def check_variant(a, lmforge, fixtures, work, name, model, wargs, linear_type, sp_ids, vocab):
    src = os.path.join(fixtures, "hf", model)
    folder, deq = os.path.join(work, name), os.path.join(work, name + ".dequantized")
    write_variant(src, folder, deq, wargs)
    ref = [Llama(deq).probs(ids).numpy() for ids in sp_ids]

    worst, top1 = distance([lmforge_probs(lmforge, folder, i, vocab, ["--reference"]) for i in sp_ids], ref)
    print("%-40s reference engine vs torch: max |dp| = %.2e, top-1 %.0f%%" % (name, worst, 100 * top1), flush=True)
    check(worst <= a.tol_ref, "%s: reference engine max |dp| = %.3g > %g" % (name, worst, a.tol_ref))
    worst, top1 = distance([lmforge_probs(lmforge, folder, i, vocab, ["-t", "2"]) for i in sp_ids], ref)
    print("%-40s fast engine vs torch:      max |dp| = %.2e, top-1 %.0f%%" % (name, worst, 100 * top1), flush=True)
    check(worst <= a.tol_act8 and top1 >= 0.9, "%s: fast engine max |dp| = %.3g (> %g?), top-1 %.2f"
          % (name, worst, a.tol_act8, top1))

    g = json.loads(run([lmforge, "inspect", folder, "--json"]).stdout).get("gptq")
    check(g is not None, "%s: inspect --json has no gptq object" % name)
    want = {"bits": int(wargs[wargs.index("--bits") + 1]),
            "group_size": int(wargs[wargs.index("--group-size") + 1]) if "--group-size" in wargs else 32,
            "desc_act": "--act-order" in wargs, "sym": "--asym" not in wargs,
            "checkpoint_format": wargs[wargs.index("--format") + 1] if "--format" in wargs else "gptq"}
    for k, v in want.items():
        check(g.get(k) == v, "%s: inspect says %s = %r, the writer wrote %r" % (name, k, g.get(k), v))
    text = run([lmforge, "inspect", folder]).stdout.decode()
    check("gptq:    %d-bit, group size" % want["bits"] in text, "%s: inspect text has no gptq line" % name)

    gguf = os.path.join(work, name + ".gguf")
    if os.path.exists(gguf):
        os.remove(gguf)
    run([lmforge, "convert", folder, gguf, "--quiet"], timeout=120)
    types = gguf_linear_types(lmforge, gguf)
    check(types == {linear_type}, "%s: converted linears are %s, expected %s" % (name, types, linear_type))
    # The error the conversion adds to the weights: the GGUF read back (lmforge convert GGUF ->
    # HF folder, Q/K rows back in HF order) against the weights the GPTQ folder means.
    back = os.path.join(work, name + ".from-gguf")
    shutil.rmtree(back, ignore_errors=True)
    run([lmforge, "convert", gguf, back, "--quiet"], timeout=120)
    mine, theirs = load_hf_state_dict(back), load_hf_state_dict(deq)
    rel = 0.0
    for k, w in theirs.items():
        if any(k.endswith(m + ".weight") for m in LINEARS):
            d = (mine[k].double() - w.double()).abs().max().item()
            rel = max(rel, d / max(w.double().abs().max().item(), 1e-30))
    print("%-40s %s GGUF weights vs the folder's: max |dw| / max |w| = %.2e per tensor"
          % (name, linear_type, rel), flush=True)
    # Q4_1: m rounded to fp16 (<= 2^-11 |m|, |m| <= 2^bits * scale); F16: each weight rounded.
    check(rel <= 2.0 ** -11 * (16 if linear_type == "Q4_1" else 1),
          "%s: the converted weights differ by %.3g of the largest weight" % (name, rel))
    worst, top1 = distance(llama_cpp_probs(gguf, work, sp_ids, vocab), ref)
    print("%-40s llama.cpp on the %s GGUF vs torch: max |dp| = %.2e, top-1 %.0f%%"
          % (name, linear_type, worst, 100 * top1), flush=True)
    tol = a.tol_llama if linear_type == "Q4_1" else a.tol_llama_f16
    check(worst <= tol and top1 >= 0.9, "%s: llama.cpp on the converted GGUF: max |dp| = %.3g "
          "(> %g?), top-1 %.2f" % (name, worst, tol, top1))
    return folder, deq, ref


def self_test(a, lmforge, work, sp_ids, vocab, v1_folder, v1_ref, act_folder, act_ref):
    wrong = os.path.join(work, "selftest-v1-read-as-v2")
    shutil.rmtree(wrong, ignore_errors=True)
    shutil.copytree(v1_folder, wrong)
    edit_json(config_file(wrong), checkpoint_format="gptq_v2")
    worst, _ = distance([lmforge_probs(lmforge, wrong, i, vocab, ["--reference"]) for i in sp_ids], v1_ref)
    print("self-test: v1 folder read as v2:           max |dp| = %.2e" % worst, flush=True)
    check(worst > a.tol_ref, "self-test: zero points off by one stay within %g" % a.tol_ref)

    wrong = os.path.join(work, "selftest-actorder-without-g_idx")
    shutil.rmtree(wrong, ignore_errors=True)
    shutil.copytree(act_folder, wrong)

    def sequential(t):
        for k in list(t):
            if k.endswith(".g_idx"):
                gs = 32
                t[k] = (np.arange(t[k].shape[0]) // gs).astype(np.int32)
    edit_tensors(wrong, sequential)
    worst, _ = distance([lmforge_probs(lmforge, wrong, i, vocab, ["--reference"]) for i in sp_ids], act_ref)
    print("self-test: act-order g_idx replaced:       max |dp| = %.2e" % worst, flush=True)
    check(worst > a.tol_ref, "self-test: a lost act-order permutation stays within %g" % a.tol_ref)


def bad_folders(lmforge, work, good):
    q = "model.layers.0.self_attn.q_proj"

    def tensors(fn):
        return lambda d: edit_tensors(d, fn)

    def cfg(**kw):
        return lambda d: edit_json(config_file(d), **kw)

    def set_(key, value_fn):
        def f(t):
            t[key] = value_fn(t[key])
        return f

    def nan_scale(s):
        s = s.copy()
        s[1, 2] = np.float16("nan")
        return s

    def truncate(d):
        p = os.path.join(d, "model.safetensors")
        with open(p, "rb") as f:
            data = f.read()
        with open(p, "wb") as f:
            f.write(data[:-100])

    def add_bias(t):
        b = np.zeros(t[q + ".scales"].shape[1], dtype=np.float16)
        b[3] = 0.5
        t[q + ".bias"] = b

    cases = [
        ("qweight-float", tensors(set_(q + ".qweight", lambda w: w.astype(np.float32))), "dtype F32, expected I32"),
        ("bits-say-8", cfg(bits=8), "qweight"),
        ("qweight-transposed", tensors(set_(q + ".qweight", lambda w: np.ascontiguousarray(w.T))), "has shape"),
        ("g_idx-out-of-range", tensors(set_(q + ".g_idx", lambda g: np.where(np.arange(g.size) == 5, g.max() + 1, g).astype(np.int32))), "groups"),
        ("g_idx-overfull-group", tensors(set_(q + ".g_idx", lambda g: np.zeros_like(g))), "group size"),
        ("scale-nan", tensors(set_(q + ".scales", nan_scale)), "NaN"),
        ("truncated", truncate, "model.safetensors"),
        ("bits-5", cfg(bits=5), "2, 3, 4 and 8"),
        ("format-marlin", cfg(checkpoint_format="marlin"), "marlin"),
        ("nonzero-bias", tensors(add_bias), "bias"),
        ("qzeros-missing", tensors(lambda t: t.pop(q + ".qzeros")), "qzeros"),
        ("qzeros-wrong-groups", tensors(set_(q + ".qzeros", lambda z: z[:1].copy())), "qzeros"),
        ("sym-v1-labelled-v2", cfg(checkpoint_format="gptq_v2"), "v1 (gptq) form of a symmetric 4-bit"),
    ]
    for name, damage, words in cases:
        d = os.path.join(work, "bad-" + name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(good, d)
        damage(d)
        for cmd in (["logits", "-m", d, "--ids", "1,2"], ["convert", d, d + ".gguf", "--quiet"]):
            if os.path.exists(d + ".gguf"):
                os.remove(d + ".gguf")
            r = subprocess.run([lmforge] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            err = r.stderr.decode(errors="replace").strip()
            lines = err.splitlines()
            check(r.returncode == 1, "bad folder %s: `lmforge %s` exited %d (stderr: %s)" % (name, cmd[0], r.returncode, err[-500:]))
            check(len(lines) == 1 and lines[0].startswith("lmforge: error:") and words in lines[0],
                  "bad folder %s: `lmforge %s` said %r, expected one error line mentioning %r" % (name, cmd[0], err[-500:], words))
            check(not os.path.exists(d + ".gguf"), "bad folder %s: convert left %s behind" % (name, d + ".gguf"))
        print("bad folder %-22s %s" % (name, lines[0]), flush=True)


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol-ref", type=float, default=1e-4)
    ap.add_argument("--tol-act8", type=float, default=0.2)
    ap.add_argument("--tol-llama", type=float, default=0.2, help="Q4_1 GGUFs: llama.cpp rounds activations to 8 bits")
    ap.add_argument("--tol-llama-f16", type=float, default=0.02)
    ap.add_argument("--variants", default=None, help="comma-separated subset")
    a = ap.parse_args()
    fixtures = os.path.abspath(a.fixtures)
    work = workdir_for(a, "gptq_read")
    manifest = fixture_manifest(fixtures)
    vocab = manifest["vocab_size"]
    sp_ids = sentencepiece_ids(os.path.join(fixtures, manifest["tokenizer"]), PROMPTS[:N_PROMPTS])
    wanted = set(a.variants.split(",")) if a.variants else None
    failures, done = [], {}
    for name, model, wargs, linear_type in VARIANTS:
        if wanted and name not in wanted:
            continue
        try:
            done[name] = check_variant(a, a.lmforge, fixtures, work, name, model, wargs, linear_type, sp_ids, vocab)
        except CheckFailed as e:
            print("%-40s FAILED: %s" % (name, e), flush=True)
            failures.append(str(e))
    check(not failures, "%d variants failed:\n  %s" % (len(failures), "\n  ".join(failures)))
    if "b4-g32-sym-v1" in done and "b4-g32-asym-actorder-v1" in done:
        v1, act = done["b4-g32-sym-v1"], done["b4-g32-asym-actorder-v1"]
        # The asymmetric v1 folder read as v2 (a symmetric one is refused outright, see below).
        self_test(a, a.lmforge, work, sp_ids, vocab, act[0], act[2], act[0], act[2])
        bad_folders(a.lmforge, work, v1[0])


if __name__ == "__main__":
    main_wrapper("check_gptq_read", main)
