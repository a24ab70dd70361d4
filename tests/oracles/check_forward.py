#!/usr/bin/python3
"""lmforge's own forward pass (`lmforge logits --all`: the scalar reference engine and the fast
engine) against a float64 PyTorch forward pass written from the HF LLaMA definition
(torch_reference.py).

Per fixture model the HF folder is converted to GGUF and lmforge's next-token probabilities at
every position of the prompts (SentencePiece ids with BOS) are compared with the reference:
  f32: against the ORIGINAL folder; only float32 arithmetic (lmforge) vs float64 separates
    them: max |dp| <= --tol-lossless.
  f16, bf16, q8_0, q4_0: against the folder `lmforge convert X.gguf DIR` dequantizes the GGUF to,
    i.e. the weights the file really holds. lmforge's scalar path rounds only the weights (no
    activation rounding), so the same float32-vs-float64 tolerance applies: max |dp| <=
    --tol-dequantized. f16 is also held to the original within --tol-f16.
The fast engine (SIMD kernels, threads, batches) is held to the same tolerances, except that for
q8_0/q4_0 weights it also rounds the activations to 8 bits (as llama.cpp does). On these tiny
random models with peaked distributions that moves probabilities by up to 0.12 (measured), so
against the dequantized weights it gets --tol-act8 = 0.2 and top-1 agreement >= 90 %: enough to
catch a wrong kernel (which gives unrelated distributions), while the tight check of that path
is oracle.llama_probs, against llama.cpp, which rounds its activations the same way.
Self-test: the q8_0 and q4_0 models must be farther than --tol-dequantized from the ORIGINAL,
showing that the comparison can see a change of weights of that size. The other distances are
printed for information.
"""

import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    main_wrapper, run, sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402

OUTTYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")


def convert(lmforge, src, dst, outtype=None):
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    elif os.path.exists(dst):
        os.remove(dst)
    cmd = [lmforge, "convert", src, dst, "--quiet"]
    if outtype:
        cmd += ["--outtype", outtype]
    run(cmd, timeout=120)
    check(os.path.exists(dst), "lmforge convert exited 0 but %s does not exist" % dst)


def softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


ENGINES = {"ref": ["--reference"], "fast": ["-t", "2"]}


def lmforge_probs(tag, lmforge, gguf, ids, vocab_size, engine):
    r = run([lmforge, "logits", "-m", gguf, "--ids", ",".join(map(str, ids)), "--all"]
            + ENGINES[engine], timeout=300)
    try:
        logits = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckFailed("%s: lmforge logits printed no usable JSON (%s): %s"
                          % (tag, e, r.stdout[:500]))
    check(logits.shape == (len(ids), vocab_size), "%s: lmforge logits has shape %s, expected %s"
          % (tag, logits.shape, (len(ids), vocab_size)))
    check(np.all(np.isfinite(logits)), "%s: lmforge logits are not all finite" % tag)
    return softmax(logits)


def distance(probs, ref_probs):
    """(max |dp| over prompts, positions and vocab; where; top-1 agreement)."""
    worst, where, agree, total = -1.0, "", 0, 0
    for i, (p, q) in enumerate(zip(probs, ref_probs)):
        d = np.abs(p - q)
        pos, tok = np.unravel_index(np.argmax(d), d.shape)
        if d.max() > worst:
            worst = float(d.max())
            where = "prompt %d position %d token %d: lmforge %.6f torch %.6f" % (
                i, pos, tok, p[pos, tok], q[pos, tok])
        agree += int(np.sum(p.argmax(-1) == q.argmax(-1)))
        total += p.shape[0]
    return worst, where, agree / total


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol-lossless", type=float, default=1e-4)
    ap.add_argument("--tol-dequantized", type=float, default=1e-4)
    ap.add_argument("--tol-f16", type=float, default=1e-2)
    ap.add_argument("--tol-act8", type=float, default=0.2)
    ap.add_argument("--models", default=None, help="comma-separated subset of fixture models")
    ap.add_argument("--outtypes", default=",".join(OUTTYPES))
    args = ap.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "forward")
    manifest = fixture_manifest(fixtures)
    vocab_size = manifest["vocab_size"]
    sp_ids = sentencepiece_ids(os.path.join(fixtures, manifest["tokenizer"]), PROMPTS)
    wanted = set(args.models.split(",")) if args.models else None
    outtypes = args.outtypes.split(",")
    for o in outtypes:
        check(o in OUTTYPES, "unknown outtype %r" % o)
    failures, checked = [], 0

    for model in manifest["models"]:
        name = model["name"]
        if wanted and name not in wanted:
            continue
        src = os.path.join(fixtures, model["path"])
        orig = [Llama(src).probs(ids).numpy() for ids in sp_ids]
        for outtype in outtypes:
            gguf = os.path.join(work, "%s.%s.gguf" % (name, outtype))
            deq = None
            for engine in ENGINES:
                tag = "%s/%s/%s" % (name, outtype, engine)
                try:
                    if engine == "ref":
                        convert(args.lmforge, src, gguf, outtype)
                    probs = [lmforge_probs(tag, args.lmforge, gguf, ids, vocab_size, engine)
                             for ids in sp_ids]
                    worst, where, top1 = distance(probs, orig)
                    print("%-33s vs original:    max |dp| = %.2e, top-1 %.1f%% (%s)"
                          % (tag, worst, 100 * top1, where), flush=True)
                    if outtype == "f32":
                        check(worst <= args.tol_lossless, "%s: max |dp| = %.3g > %g at %s"
                              % (tag, worst, args.tol_lossless, where))
                        checked += 1
                        continue
                    # Self-test: rounding the weights to 8 or 4 bits must be visible at this
                    # tolerance, or the comparison below could not see a wrong weight either.
                    if outtype in ("q8_0", "q4_0"):
                        check(worst > args.tol_dequantized, "%s: self-test: the %s model is "
                              "within %g of the original; the check cannot see such changes"
                              % (tag, outtype, args.tol_dequantized))
                    if outtype == "f16":
                        check(worst <= args.tol_f16, "%s: max |dp| against the original = %.3g "
                              "> %g at %s" % (tag, worst, args.tol_f16, where))
                    if deq is None:
                        deq_dir = os.path.join(work, "%s.%s.dequantized" % (name, outtype))
                        convert(args.lmforge, gguf, deq_dir)
                        deq = [Llama(deq_dir).probs(ids).numpy() for ids in sp_ids]
                    worst, where, top1 = distance(probs, deq)
                    print("%-33s vs dequantized: max |dp| = %.2e, top-1 %.1f%% (%s)"
                          % (tag, worst, 100 * top1, where), flush=True)
                    act8 = engine == "fast" and outtype in ("q8_0", "q4_0")
                    tol = args.tol_act8 if act8 else args.tol_dequantized
                    check(worst <= tol, "%s: max |dp| against the dequantized weights = %.3g > "
                          "%g at %s" % (tag, worst, tol, where))
                    if act8:
                        check(top1 >= 0.9, "%s: top-1 agrees with the dequantized weights at "
                              "only %.1f%% of positions" % (tag, 100 * top1))
                    checked += 1
                except CheckFailed as e:  # report every combination, then fail
                    print("%-33s FAILED: %s" % (tag, e), flush=True)
                    failures.append(str(e))
    check(checked + len(failures) > 0, "no model/outtype combination was checked")
    check(not failures, "%d of the model/outtype combinations failed:\n  %s"
          % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_forward", main)
