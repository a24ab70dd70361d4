#!/usr/bin/python3
"""lmforge convert HF -> GGUF, then run the GGUF in llama.cpp (node-llama-cpp) and compare with
libsentencepiece (token ids) and a float64 PyTorch forward pass (next-token probabilities at
every position, greedy continuation).

Per fixture model and outtype, llama.cpp's tokenization of every prompt must equal
SentencePiece's ids with BOS prepended, and its outputs must be probability distributions. Then:
  f32: max |p_llama.cpp - p_torch| over vocab and positions against the float64 reference of the
    ORIGINAL weights <= --tol-lossless, and the 16-token greedy continuations are identical.
  f16, bf16, q8_0, q4_0: rounding the weights moves the model away from the original (up to ~0.9
    in probability for q4_0 on these tiny random models), so the original is not the reference
    (f16 is still held to it within --tol). Instead `lmforge convert X.gguf DIR` dequantizes the
    GGUF exactly to F32 and:
      - every dequantized weight lies within the rounding error its GGUF type allows of the
        original weight (per 32-block for Q8_0 / Q4_0): lmforge rounded correctly;
      - llama.cpp on the GGUF agrees with the float64 reference of DIR, which rounds each matmul's
        input as llama.cpp does for that weight type (Q8_0 blocks for Q8_0 / Q4_0 weights, bf16,
        f16): max |dp| <= --tol-<type> and the same top-1 token at >= --min-top1 of the
        positions: llama.cpp reads the bytes as lmforge meant them.
    The distance to the original reference is printed for information.
Self-test (first model; --no-self-test skips it): copies of its bf16 / q8_0 / q4_0 GGUFs with ONE
weight tensor garbled the way a writer bug could (bf16 neighbours swapped, Q8_0 scale signs
flipped, Q4_0 nibbles swapped) must FAIL the comparison with llama.cpp above.
"""

import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    lmforge_inspect, main_wrapper, require_node_modules, run, run_node,
                    sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402

GENERATE = 16
# Outtypes that round the weights, with their tolerance of max |dp| against the dequantized GGUF:
# about 2.5-3x the worst seen on the fixtures (f16 3.4e-3, bf16 1.7e-2, q8_0 8.1e-2, q4_0 5.2e-2).
# The residual is float32 against float64: it decides some roundings of activations the other way
# (a few percent of positions), and these tiny random models amplify one such flip to ~1e-2.
DEQUANTIZED = {"f16": 1e-2, "bf16": 5e-2, "q8_0": 0.2, "q4_0": 0.15}
SELF_TESTED = ("bf16", "q8_0", "q4_0")
# Which tensor the self-test garbles: one matrix in the middle of the network, so a bug confined
# to a single tensor is shown to be visible, not only a file-wide one.
SELF_TEST_TENSOR = "blk.0.ffn_down.weight"


def convert(lmforge, src, dst):
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    elif os.path.exists(dst):
        os.remove(dst)
    cmd = [lmforge, "convert", src, dst]
    if dst.endswith(".gguf"):
        cmd += ["--outtype", dst.split(".")[-2]]
    run(cmd, timeout=120)
    check(os.path.exists(dst), "lmforge convert exited 0 but %s does not exist" % dst)


# ---------------------------------------------------------------------------------------------
# llama.cpp side

def llama_cpp_eval(tag, gguf, work, sp_ids, vocab_size):
    """Run llama.cpp on gguf; check tokenization and distributions; return (probs, greedy)."""
    req = os.path.join(work, os.path.basename(gguf) + ".request.json")
    with open(req, "w") as f:
        json.dump({"prompts": PROMPTS, "ids": sp_ids, "generate": GENERATE,
                   "probabilities": True}, f)
    out = run_node("llama_cpp.mjs", [gguf, req])
    check(out["vocab_size"] == vocab_size,
          "%s: llama.cpp sees %s tokens, expected %d" % (tag, out["vocab_size"], vocab_size))
    check(out["add_bos"] is True and out["bos"] == 1,
          "%s: llama.cpp add_bos=%s bos=%s, expected true and 1"
          % (tag, out["add_bos"], out["bos"]))
    probs, greedy = [], []
    for i, (prompt, r) in enumerate(zip(PROMPTS, out["results"])):
        check(r["tokens"] == sp_ids[i], "%s: prompt %r tokenized by llama.cpp as %s, by "
              "SentencePiece as %s" % (tag, prompt, r["tokens"], sp_ids[i]))
        p = np.array(r["probs"], dtype=np.float64)
        check(p.shape == (len(sp_ids[i]), vocab_size), "%s: llama.cpp gave probabilities of "
              "shape %s, expected %s" % (tag, p.shape, (len(sp_ids[i]), vocab_size)))
        check(np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1.0, atol=1e-3),
              "%s: llama.cpp probabilities are not a distribution" % tag)
        g = r["greedy"]
        check(len(g) == GENERATE and all(0 <= t < vocab_size for t in g),
              "%s: bad greedy output %s" % (tag, g))
        probs.append(p)
        greedy.append(g)
    check(len(probs) == len(PROMPTS), "%s: llama.cpp answered %d of %d prompts"
          % (tag, len(probs), len(PROMPTS)))
    return probs, greedy


class Reference:
    """Float64 probabilities (and, when asked, greedy continuations) of one HF folder."""

    def __init__(self, folder, sp_ids, act_round=None):
        self.model = Llama(folder, act_round)
        self.sp_ids = sp_ids
        self.probs = [self.model.probs(ids).numpy() for ids in sp_ids]
        self._greedy = None

    @property
    def greedy(self):  # 16 full forward passes per prompt: only where a check needs them
        if self._greedy is None:
            self._greedy = [self.model.greedy(ids, GENERATE) for ids in self.sp_ids]
        return self._greedy


class Distance:
    """llama.cpp's probabilities against a reference's, over every prompt and position."""

    def __init__(self, probs, ref):
        self.worst, self.where, per_position, top1 = -1.0, "", [], 0
        for i, (p, q) in enumerate(zip(probs, ref.probs)):
            diff = np.abs(p - q)
            pos, tok = np.unravel_index(np.argmax(diff), diff.shape)
            if diff.max() > self.worst:
                self.worst = float(diff.max())
                self.where = "prompt %d position %d token %d: llama.cpp %.6f torch %.6f" % (
                    i, pos, tok, p[pos, tok], q[pos, tok])
            per_position.append(diff.max(-1))
            top1 += int(np.sum(np.argmax(p, -1) == np.argmax(q, -1)))
        per_position = np.concatenate(per_position)
        self.positions = len(per_position)
        self.top1 = top1 / self.positions
        self.mean = float(np.mean(per_position))

    def summary(self):
        return ("max |dp| = %.2e (%s), mean over %d positions %.1e, top-1 %.1f%%"
                % (self.worst, self.where, self.positions, self.mean, 100 * self.top1))


def check_close(tag, dist, tol, min_top1):
    check(dist.worst <= tol, "%s: max |p_llama.cpp - p_torch| = %.4g > %g at %s"
          % (tag, dist.worst, tol, dist.where))
    check(dist.top1 >= min_top1, "%s: llama.cpp and torch agree on the top-1 token at %.1f%% of "
          "%d positions, fewer than %.1f%%" % (tag, 100 * dist.top1, dist.positions,
                                               100 * min_top1))


# ---------------------------------------------------------------------------------------------
# dequantized weights against the originals

# GGUF tensor name -> Hugging Face name (LLaMA), for the per-tensor storage type.
_GGUF_TO_HF = {"token_embd.weight": "model.embed_tokens.weight",
               "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
_GGUF_BLOCK = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
               "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
               "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
               "ffn_gate": "mlp.gate_proj", "ffn_down": "mlp.down_proj", "ffn_up": "mlp.up_proj"}


def hf_name(gguf_name):
    if gguf_name in _GGUF_TO_HF:
        return _GGUF_TO_HF[gguf_name]
    parts = gguf_name.split(".")
    check(len(parts) == 4 and parts[0] == "blk" and parts[2] in _GGUF_BLOCK
          and parts[3] == "weight", "unexpected GGUF tensor name %r" % gguf_name)
    return "model.layers.%s.%s.weight" % (parts[1], _GGUF_BLOCK[parts[2]])


def rounding_bound(dtype, w):
    """Largest |dequantized - original| the storage type allows, elementwise (float64 array).

    Q8_0: d = amax/127 per 32-block, q = round(x/d), d stored as f16: |err| <= d/2 + 127*d*2^-11.
    Q4_0: d = -max/8 with max the signed element of largest magnitude; x/d in [-8, 8] and +8 is
    clipped to 7, so |err| <= |d| (one step), plus 8*|d|*2^-11 for the f16 scale.
    BF16: round to nearest, 8 significant bits: |err| <= |x|*2^-8. F16: |err| <= |x|*2^-11 (plus
    the f16 subnormal step). F32: exact (the originals are f32, f16 or bf16)."""
    if dtype in ("Q8_0", "Q4_0"):
        check(w.shape[-1] % 32 == 0, "row of %d is not a multiple of the 32-block" % w.shape[-1])
        amax = np.abs(w.reshape(-1, 32)).max(-1, keepdims=True)
        step = amax / 127.0 if dtype == "Q8_0" else amax / 8.0
        k = 0.5 + 127 * 2.0 ** -11 if dtype == "Q8_0" else 1.0 + 8 * 2.0 ** -11
        return np.broadcast_to(step * k * (1 + 1e-6), (amax.shape[0], 32)).reshape(w.shape)
    if dtype == "BF16":
        return np.abs(w) * 2.0 ** -8 + 1e-40
    if dtype == "F16":
        return np.abs(w) * 2.0 ** -11 + 2.0 ** -25
    check(dtype == "F32", "unexpected tensor type %s" % dtype)
    return np.zeros_like(w)


def storage_types(lmforge, gguf):
    """{Hugging Face name: GGUF storage type} of the GGUF's tensors."""
    return {hf_name(t["name"]): t["dtype"] for t in lmforge_inspect(lmforge, gguf)["tensors"]}


# How llama.cpp's CPU matmul rounds the activations for a weight of each type: Q8_0 and Q4_0 dot
# products take Q8_0 activation blocks, BF16 and F16 ones take 16-bit activations, F32 none.
_ACT_ROUND = {"Q8_0": "q8_0", "Q4_0": "q8_0", "BF16": "bf16", "F16": "f16"}


def activation_rounding(types):
    """torch_reference act_round for a GGUF's storage types (the LM head is the embedding when
    the GGUF has no output.weight)."""
    act = {name: _ACT_ROUND[t] for name, t in types.items()
           if t in _ACT_ROUND and name != "model.embed_tokens.weight"}  # embedding: a lookup
    head = types.get("lm_head.weight", types.get("model.embed_tokens.weight"))
    if head in _ACT_ROUND:
        act["lm_head.weight"] = _ACT_ROUND[head]
    return act


def check_dequantized_weights(tag, types, original, dequantized):
    """Every tensor of the dequantized folder is the original within the rounding of its type."""
    check(set(dequantized.w) == set(types), "%s: the dequantized folder holds %s, the GGUF %s"
          % (tag, sorted(dequantized.w), sorted(types)))
    worst = 0.0
    for name, dtype in types.items():
        check(name in original.w, "%s: %s is not in the original checkpoint" % (tag, name))
        a, b = original.w[name].numpy(), dequantized.w[name].numpy()
        check(a.shape == b.shape, "%s: %s has shape %s, the original %s"
              % (tag, name, b.shape, a.shape))
        err = np.abs(b - a)
        bound = rounding_bound(dtype, a)
        bad = err > bound
        if bad.any():
            i = np.unravel_index(np.argmax(err - bound), err.shape)
            raise CheckFailed("%s: %s (%s) dequantizes to %.8g at %s, the original is %.8g; "
                              "%s rounding allows %.3g" % (tag, name, dtype, b[i], list(i), a[i],
                                                           dtype, bound[i]))
        nz = bound > 0
        if nz.any():
            worst = max(worst, float((err[nz] / bound[nz]).max()))
    return worst


# ---------------------------------------------------------------------------------------------
# self-test: garbled copies must fail

def garble(lmforge, src, dst, tensor):
    """Copy src to dst with the data of one tensor garbled according to its type."""
    info = lmforge_inspect(lmforge, src)
    t = [x for x in info["tensors"] if x["name"] == tensor]
    check(len(t) == 1, "self-test: %s has no tensor %s" % (src, tensor))
    t = t[0]
    with open(src, "rb") as f:
        data = bytearray(f.read())
    off, n = t["offset"], t["bytes"]
    check(info["data_offset"] <= off and off + n <= len(data),
          "self-test: %s lies outside the data of %s" % (tensor, src))
    chunk = np.frombuffer(bytes(data[off:off + n]), dtype=np.uint8).copy()
    if t["dtype"] == "Q4_0":  # 18-byte blocks: f16 scale, 16 bytes of two 4-bit values each
        q = chunk.reshape(-1, 18)[:, 2:]
        q[...] = ((q & 0x0F) << 4) | (q >> 4)
    elif t["dtype"] == "Q8_0":  # 34-byte blocks: f16 scale, 32 int8; flip the scale's sign bit
        chunk.reshape(-1, 34)[:, 1] ^= 0x80
    elif t["dtype"] == "BF16":  # swap neighbouring values (a byte swap would make NaNs)
        chunk[...] = chunk.reshape(-1, 2, 2)[:, ::-1, :].reshape(-1)
    else:
        raise CheckFailed("self-test: cannot garble a %s tensor" % t["dtype"])
    data[off:off + n] = chunk.tobytes()
    with open(dst, "wb") as f:
        f.write(data)
    return t["dtype"]


def self_test(tag, lmforge, gguf, orig, deq, work, sp_ids, vocab_size, tol, min_top1):
    """A copy of gguf with one tensor garbled must fail both checks: llama.cpp against deq (as if
    lmforge's writer and reader shared the bug), and its dequantized weights against orig."""
    bad = os.path.join(work, "selftest." + os.path.basename(gguf))
    dtype = garble(lmforge, gguf, bad, SELF_TEST_TENSOR)
    what = "%s: self-test: a copy with %s (%s) garbled" % (tag, SELF_TEST_TENSOR, dtype)
    probs, _ = llama_cpp_eval(tag, bad, work, sp_ids, vocab_size)
    dist = Distance(probs, deq)
    try:
        check_close(tag, dist, tol, min_top1)
        raise CheckFailed("%s still passes in llama.cpp (%s): the check cannot see such a bug"
                          % (what, dist.summary()))
    except CheckFailed as e:
        if e.args[0].startswith(what):
            raise
    bad_dir = os.path.join(work, "selftest.dequantized")
    convert(lmforge, bad, bad_dir)
    try:
        check_dequantized_weights(tag, storage_types(lmforge, bad), orig.model, Llama(bad_dir))
        raise CheckFailed("%s dequantizes within the rounding bound of the original weights"
                          % what)
    except CheckFailed as e:
        if e.args[0].startswith(what):
            raise
        weights = str(e)
    print("%-24s self-test: %s garbled (%s) fails as it must: llama.cpp %s; %s"
          % (tag, SELF_TEST_TENSOR, dtype, dist.summary(), weights), flush=True)


# ---------------------------------------------------------------------------------------------

def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-2,
                    help="probability tolerance for f16 against the original weights")
    ap.add_argument("--tol-lossless", type=float, default=1e-4,
                    help="probability tolerance for f32 (llama.cpp runs with an F32 KV cache and "
                         "no flash attention, so only float32 arithmetic separates it from the "
                         "float64 reference)")
    for o, tol in DEQUANTIZED.items():
        ap.add_argument("--tol-" + o, type=float, default=tol,
                        help="probability tolerance for %s against the dequantized weights "
                             "(default %%(default)g)" % o)
    ap.add_argument("--min-top1", type=float, default=0.95,
                    help="fraction of positions where llama.cpp's top-1 token must be the "
                         "dequantized reference's (default %(default)g)")
    ap.add_argument("--models", default=None, help="comma-separated subset of fixture models")
    ap.add_argument("--outtypes", default="f32,f16,bf16,q8_0,q4_0")
    ap.add_argument("--no-self-test", action="store_true",
                    help="skip the garbled copies of the first model's bf16/q8_0/q4_0 GGUFs")
    args = ap.parse_args()
    require_node_modules()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "llama_cpp")
    manifest = fixture_manifest(fixtures)
    vocab_size = manifest["vocab_size"]
    tokenizer = os.path.join(fixtures, manifest["tokenizer"])
    sp_ids = sentencepiece_ids(tokenizer, PROMPTS)
    wanted = set(args.models.split(",")) if args.models else None
    outtypes = args.outtypes.split(",")
    for o in outtypes:
        check(o == "f32" or o in DEQUANTIZED, "unknown outtype %r" % o)
    failures = []
    self_test_due = not args.no_self_test

    for model in manifest["models"]:
        name = model["name"]
        if wanted and name not in wanted:
            continue
        src = os.path.join(fixtures, model["path"])
        orig = Reference(src, sp_ids)
        do_self_test, self_test_due = self_test_due, False
        for outtype in outtypes:
            tag = "%s/%s" % (name, outtype)
            dst = os.path.join(work, "%s.%s.gguf" % (name, outtype))
            try:
                convert(args.lmforge, src, dst)
                probs, greedy = llama_cpp_eval(tag, dst, work, sp_ids, vocab_size)
                dist = Distance(probs, orig)
                print("%-24s vs original:    %s" % (tag, dist.summary()), flush=True)
                # f32 GGUFs hold the checkpoint's values and llama.cpp computes them in float32.
                if outtype == "f32":
                    check(dist.worst <= args.tol_lossless, "%s: max |p_llama.cpp - p_torch| = "
                          "%.4g > %g at %s" % (tag, dist.worst, args.tol_lossless, dist.where))
                    for i, prompt in enumerate(PROMPTS):
                        check(greedy[i] == orig.greedy[i], "%s: greedy continuation of prompt "
                              "%r: llama.cpp %s, torch %s"
                              % (tag, prompt, greedy[i], orig.greedy[i]))
                    continue
                # f16 rounds weights and activations finely enough to be held to the original
                # too; the coarser types are only printed against it.
                if outtype == "f16":
                    check(dist.worst <= args.tol, "%s: max |p_llama.cpp - p_torch| = %.4g > %g "
                          "at %s" % (tag, dist.worst, args.tol, dist.where))
                # Against what the file holds: its dequantized weights, with llama.cpp's rounding
                # of the activations for each weight type.
                deq_dir = os.path.join(work, "%s.%s.dequantized" % (name, outtype))
                convert(args.lmforge, dst, deq_dir)
                types = storage_types(args.lmforge, dst)
                deq = Reference(deq_dir, sp_ids, activation_rounding(types))
                w_ratio = check_dequantized_weights(tag, types, orig.model, deq.model)
                dist = Distance(probs, deq)
                print("%-24s vs dequantized: %s; weights at most %.0f%% of their rounding bound "
                      "from the original" % (tag, dist.summary(), 100 * w_ratio), flush=True)
                tol = getattr(args, "tol_" + outtype)
                check_close(tag, dist, tol, args.min_top1)
                if do_self_test and outtype in SELF_TESTED:
                    self_test(tag, args.lmforge, dst, orig, deq, work, sp_ids, vocab_size, tol,
                              args.min_top1)
            except CheckFailed as e:  # collect every failure, report them all at the end
                print("%-24s FAILED: %s" % (tag, e), flush=True)
                failures.append(str(e))
    check(not failures, "%d of the model/outtype combinations failed:\n  %s"
          % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_llama_cpp", main)
