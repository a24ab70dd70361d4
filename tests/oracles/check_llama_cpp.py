#!/usr/bin/python3
"""lmforge convert HF -> GGUF, then run the GGUF in llama.cpp (node-llama-cpp) and compare with
libsentencepiece (token ids) and a float64 PyTorch forward pass of the original weights
(next-token probabilities at every position, greedy continuation).

Per fixture model and outtype:
  f32 and f16: llama.cpp's tokenization of every prompt equals SentencePiece's ids with BOS
    prepended; max |p_llama.cpp - p_torch| over vocab and positions <= --tol (1e-2) for f16 and
    <= --tol-lossless (1e-4) for f32, whose 16-token greedy continuation must also be identical.
  bf16, q8_0, q4_0: llama.cpp loads the file and generates 16 tokens; the probability distance
    is printed for information only.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    main_wrapper, require_node_modules, run, run_node, sentencepiece_ids,
                    workdir_for)
from torch_reference import Llama  # noqa: E402

GENERATE = 16


def convert(lmforge, src, dst, outtype):
    if os.path.exists(dst):
        os.remove(dst)
    run([lmforge, "convert", src, dst, "--outtype", outtype], timeout=120)
    check(os.path.isfile(dst), "lmforge convert exited 0 but %s does not exist" % dst)


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-2, help="probability tolerance for f16")
    ap.add_argument("--tol-lossless", type=float, default=1e-4,
                    help="probability tolerance for f32 (llama.cpp runs with an F32 KV cache and "
                         "no flash attention, so only float32 arithmetic separates it from the "
                         "float64 reference)")
    ap.add_argument("--models", default=None, help="comma-separated subset of fixture models")
    ap.add_argument("--outtypes", default="f32,f16,bf16,q8_0,q4_0")
    args = ap.parse_args()
    require_node_modules()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "llama_cpp")
    manifest = fixture_manifest(fixtures)
    tokenizer = os.path.join(fixtures, manifest["tokenizer"])
    sp_ids = sentencepiece_ids(tokenizer, PROMPTS)
    wanted = set(args.models.split(",")) if args.models else None
    outtypes = args.outtypes.split(",")
    failures = []

    for model in manifest["models"]:
        name = model["name"]
        if wanted and name not in wanted:
            continue
        src = os.path.join(fixtures, model["path"])
        ref = Llama(src)
        ref_probs = [ref.probs(ids).numpy() for ids in sp_ids]
        ref_greedy = [ref.greedy(ids, GENERATE) for ids in sp_ids]
        for outtype in outtypes:
            tag = "%s/%s" % (name, outtype)
            # f32 GGUFs hold the checkpoint's values and llama.cpp computes them in float32; with
            # f16/bf16 weights llama.cpp also rounds the activations to 16 bits (its dot products
            # for those types take 16-bit operands), so even a lossless f16 file is not exact
            lossless = outtype == "f32"
            compared = outtype in ("f32", "f16")
            dst = os.path.join(work, "%s.%s.gguf" % (name, outtype))
            try:
                convert(args.lmforge, src, dst, outtype)
                req = os.path.join(work, "%s.%s.request.json" % (name, outtype))
                with open(req, "w") as f:
                    json.dump({"prompts": PROMPTS, "ids": sp_ids, "generate": GENERATE,
                               "probabilities": True}, f)
                out = run_node("llama_cpp.mjs", [dst, req])
                check(out["vocab_size"] == manifest["vocab_size"],
                      "%s: llama.cpp sees %s tokens, expected %d" % (tag, out["vocab_size"],
                                                                     manifest["vocab_size"]))
                check(out["add_bos"] is True and out["bos"] == 1,
                      "%s: llama.cpp add_bos=%s bos=%s, expected true and 1" % (tag, out["add_bos"],
                                                                               out["bos"]))
                worst, greedy_same = 0.0, 0
                for i, (prompt, r) in enumerate(zip(PROMPTS, out["results"])):
                    check(r["tokens"] == sp_ids[i],
                          "%s: prompt %r tokenized by llama.cpp as %s, by SentencePiece as %s"
                          % (tag, prompt, r["tokens"], sp_ids[i]))
                    p = np.array(r["probs"], dtype=np.float64)
                    check(p.shape == ref_probs[i].shape,
                          "%s: llama.cpp gave probabilities of shape %s, torch %s"
                          % (tag, p.shape, ref_probs[i].shape))
                    check(np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1.0, atol=1e-3),
                          "%s: llama.cpp probabilities are not a distribution" % tag)
                    diff = np.abs(p - ref_probs[i])
                    pos, tok = np.unravel_index(np.argmax(diff), diff.shape)
                    if diff.max() > worst:
                        worst = float(diff.max())
                        where = "prompt %d position %d token %d: llama.cpp %.6f torch %.6f" % (
                            i, pos, tok, p[pos, tok], ref_probs[i][pos, tok])
                    g = r["greedy"]
                    check(len(g) == GENERATE and all(0 <= t < manifest["vocab_size"] for t in g),
                          "%s: bad greedy output %s" % (tag, g))
                    greedy_same += g == ref_greedy[i]
                    if lossless:
                        check(g == ref_greedy[i], "%s: greedy continuation of prompt %r: llama.cpp %s"
                              ", torch %s" % (tag, prompt, g, ref_greedy[i]))
                verdict = "checked" if compared else "info only"
                print("%-32s max |dp| = %.2e (%s, %s); greedy identical for %d/%d prompts; "
                      "tokenization identical for %d prompts" % (tag, worst, verdict, where,
                                                                  greedy_same, len(PROMPTS),
                                                                  len(PROMPTS)), flush=True)
                tol = args.tol_lossless if lossless else args.tol
                if compared:
                    check(worst <= tol, "%s: max |p_llama.cpp - p_torch| = %.4g > %g at %s"
                          % (tag, worst, tol, where))
            except CheckFailed as e:  # collect every failure, report them all at the end
                print("%-32s FAILED: %s" % (tag, e), flush=True)
                failures.append(str(e))
    check(not failures, "%d of the model/outtype combinations failed:\n  %s"
          % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_llama_cpp", main)
