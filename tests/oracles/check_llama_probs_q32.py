#!/usr/bin/python3
"""lmforge's next-token probabilities against llama.cpp's on the same Q4_1 / Q5_0 / Q5_1 files.

The sibling of check_llama_probs.py (same fixtures, prompts, comparison and verdict) for the other
32-element block types of issue 10. Per fixture model in MODELS and per type, the file is
written by `lmforge convert --outtype TYPE` (every matrix, the head and embedding included, in
that type; norms F32), then `lmforge logits --all` (softmax) is compared with llama.cpp's full
distributions at every position of PROMPTS[:N_PROMPTS]: the largest |p_lmforge - p_llama.cpp|
over the union of both top-10 token sets must stay within TOL[type], and the top-1 token must be
the same except at a near tie (TIE[type], at most MAX_TIES of the positions).

Self-test (--no-self-test skips it): on MODELS[0], for each type, lmforge on a copy of the file
with one tensor (blk.0.ffn_down) damaged the way a kernel bug of that type would read it must
FAIL against llama.cpp on the intact file:
  Q4_1: the two nibbles of every byte swapped (elements j and j + 16 exchanged);
  Q5_0: every fifth bit inverted (qh xor 0xffffffff);
  Q5_1: every minimum m set to 0 (the d n + m offset dropped).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_llama_probs import (MAX_TIES, MODELS, N_PROMPTS, Comparison, convert,  # noqa: E402,F401
                               llama_cpp, lmforge_probs)
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    lmforge_inspect, main_wrapper, sentencepiece_ids, workdir_for)

TYPES = ("q4_1", "q5_0", "q5_1")
# max top-10 |dp| measured with the fast engine on the 3 models x 3 prompts (78 positions per
# model and type), in the order mha-safetensors / gqa-bin-sharded / tied-bin:
#   q4_1 2.5e-6 / 2.1e-6 / 2.1e-3;  q5_0 1.7e-6 / 4.8e-2 / 9.6e-5;  q5_1 1.9e-6 / 1.6e-6 / 2.3e-6;
# no top-1 difference. 2026-12-06, main at 2237014: q5_0 2.8e-2 / 5.4e-2 / 2.8e-2 (bf16 tiles),
# q5_1 1.9e-6 / 3.6e-3 / 1.4e-2 (its integer kernel); with q4_1 on AMX INT8 tiles (prompts of
# 16+ tokens; kernels/amx_matmul.h) q4_1 5.1e-3 / 1.9e-6 / 4.4e-6: the tiles add each block's
# terms in order as llama.cpp's AMX kernel for Q4_1 does, where the integer kernel keeps 8
# lanes as llama.cpp's vec_dot does, and a matrix in mha (attn_q of blk.1) and one in tied-bin
# (ffn_down) each agree with one order and not the other: llama.cpp seems not to take its AMX
# path for every matrix here (docs/benchmarks.md, "Q4_1 prompts on AMX INT8 tiles"). Near-exact agreement needs the activations rounded as llama.cpp rounds
# them (Q8_1 sums for q4_1/q5_1: without that, 4e-2 .. 1e-1 and top-1 flips). gqa q5_0 is the
# same outlier as gqa q8_0 in check_llama_probs.py (6e-2 there): llama.cpp multiplies both types
# through llamafile's tinyBLAS for prompt batches, which rounds and orders differently, and this
# tiny random model amplifies it (lmforge's reference engine, which keeps activations in float,
# is 0.05 .. 0.12 away from llama.cpp on every one of these files). The limits follow
# check_llama_probs.py: q4_0's for q4_1/q5_1 (tied-bin q4_1's 2.1e-3 was not traced; llama.cpp
# has a separate AMX path for Q4_1 on CPUs like this one), q8_0's for q5_0.
# The self-test's damaged tensors give 0.98 .. 0.995 with 53 .. 75 top-1 differences.
TOL = {"q4_1": 0.03, "q5_0": 0.12, "q5_1": 0.03}
TIE = {"q4_1": 0.03, "q5_0": 0.05, "q5_1": 0.03}
DAMAGED_TENSOR = "blk.0.ffn_down.weight"
BLOCK_BYTES = {"Q4_1": 20, "Q5_0": 22, "Q5_1": 24}


def damage(lmforge, src, dst, dtype, tensor=DAMAGED_TENSOR):
    """Copies src to dst with `tensor`'s blocks damaged as the docstring says for `dtype`."""
    info = lmforge_inspect(lmforge, src)
    t = [x for x in info["tensors"] if x["name"] == tensor]
    check(len(t) == 1 and t[0]["dtype"] == dtype, "self-test: %s has no %s %s" % (src, dtype, tensor))
    data = bytearray(open(src, "rb").read())
    off, n = t[0]["offset"], t[0]["bytes"]
    b = np.frombuffer(bytes(data[off:off + n]), dtype=np.uint8).copy().reshape(-1, BLOCK_BYTES[dtype])
    if dtype == "Q4_1":
        b[:, 4:] = ((b[:, 4:] & 0x0F) << 4) | (b[:, 4:] >> 4)
    elif dtype == "Q5_0":
        b[:, 2:6] ^= 0xFF
    else:
        b[:, 2:4] = 0  # f16 +0.0
    data[off:off + n] = b.tobytes()
    with open(dst, "wb") as f:
        f.write(data)


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--no-self-test", action="store_true")
    ap.add_argument("--types", default=",".join(TYPES), help="types to check (default: all)")
    args = ap.parse_args()
    work = workdir_for(args, "llama_probs_q32")
    manifest = fixture_manifest(args.fixtures)
    vocab = manifest["vocab_size"]
    tokenizer = os.path.join(args.fixtures, manifest["tokenizer"])
    ids = sentencepiece_ids(tokenizer, PROMPTS[:N_PROMPTS])
    types = args.types.split(",")
    for t in types:
        check(t in TYPES, "unknown type %r (this check covers %s)" % (t, ", ".join(TYPES)))
    failures = []
    files, theirs_of = {}, {}
    for name in MODELS:
        model = [m for m in manifest["models"] if m["name"] == name]
        check(len(model) == 1, "fixture model %s is missing from the manifest" % name)
        src = os.path.join(args.fixtures, model[0]["path"])
        for outtype in types:
            tag = "%s %s" % (name, outtype)
            gguf = os.path.join(work, "%s.%s.gguf" % (name, outtype))
            convert(args.lmforge, src, gguf, outtype)
            files[(name, outtype)] = gguf
            theirs, _ = llama_cpp(gguf, work, ids, vocab, generate=1)
            theirs_of[(name, outtype)] = theirs
            cmp = Comparison(TIE[outtype])
            for i in range(len(ids)):
                cmp.add("prompt %d" % i, lmforge_probs(tag, args.lmforge, gguf, ids[i], vocab), theirs[i])
            print("%s: %s" % (tag, cmp.summary()), flush=True)
            try:
                cmp.verdict(tag, TOL[outtype])
            except CheckFailed as e:
                print("  FAIL: %s" % e, flush=True)
                failures.append(str(e))

    if not args.no_self_test:
        name = MODELS[0]
        for outtype in types:
            what = "lmforge on %s with %s damaged" % (outtype, DAMAGED_TENSOR)
            bad = os.path.join(work, "selftest.%s.%s.gguf" % (name, outtype))
            damage(args.lmforge, files[(name, outtype)], bad, outtype.upper())
            cmp = Comparison(TIE[outtype])
            for i in range(len(ids)):
                cmp.add("prompt %d" % i, lmforge_probs(what, args.lmforge, bad, ids[i], vocab),
                        theirs_of[(name, outtype)][i])
            try:
                cmp.verdict(what, TOL[outtype])
            except CheckFailed:
                print("self-test: %s fails as it must (max |dp| %.3g, %d top-1 mismatches)"
                      % (what, cmp.worst, len(cmp.top1_mismatch)), flush=True)
                continue
            failures.append("self-test: %s still passes (%s): the tolerance cannot see such a bug"
                            % (what, cmp.summary()))

    check(not failures, "%d failure(s):\n  %s" % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_llama_probs_q32", main)
