#!/usr/bin/python3
"""Round trips through lmforge convert.

1. For each fixture model: HF folder -> a.gguf (f32) -> HF folder -> b.gguf (f32). a.gguf and
   b.gguf must be byte-identical, and the HF folder written from a.gguf must hold the original
   weights exactly (same names, shapes and values, i.e. the Q/K permutation was undone) with a
   config.json that agrees with the original on every hyper-parameter.
2. For each single PyTorch checkpoint: x.pt -> x.safetensors. The safetensors file (read back
   with a reader written from the format description) holds exactly the tensors torch.load
   gives: names, dtypes, shapes and bit-identical values, views materialized.
"""

import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    load_hf_state_dict, main_wrapper, read_safetensors, run, workdir_for)

CONFIG_KEYS = ["hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
               "num_key_value_heads", "rms_norm_eps", "rope_theta", "vocab_size",
               "max_position_embeddings"]


def first_difference(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        x, y = fa.read(), fb.read()
    for i in range(min(len(x), len(y))):
        if x[i] != y[i]:
            return "first difference at byte %d (sizes %d and %d)" % (i, len(x), len(y))
    return "sizes %d and %d" % (len(x), len(y))


def bits_equal(a, b):
    if a.dtype != b.dtype or list(a.shape) != list(b.shape):
        return False
    if a.dtype in (torch.float16, torch.bfloat16):
        return torch.equal(a.contiguous().view(torch.int16), b.contiguous().view(torch.int16))
    if a.dtype == torch.float32:
        return torch.equal(a.contiguous().view(torch.int32), b.contiguous().view(torch.int32))
    if a.dtype == torch.float64:
        return torch.equal(a.contiguous().view(torch.int64), b.contiguous().view(torch.int64))
    return torch.equal(a, b)


def roundtrip_model(lmforge, fixtures, work, model):
    name = model["name"]
    src = os.path.join(fixtures, model["path"])
    a = os.path.join(work, name + ".a.gguf")
    b = os.path.join(work, name + ".b.gguf")
    # the folder keeps the model's name so that anything derived from it is the same both times
    folder = os.path.join(work, "hf", name)
    for p in (a, b):
        if os.path.exists(p):
            os.remove(p)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    run([lmforge, "convert", src, a, "--outtype", "f32"], timeout=120)
    # GQA models go through a sharded HF folder (model-0000i-of-0000n.safetensors + index).
    sharded = name.startswith("gqa")
    run([lmforge, "convert", a, folder] + (["--max-shard-size", "150KB"] if sharded else []), timeout=120)
    check(os.path.isfile(os.path.join(folder, "config.json")), "%s: no config.json in %s" % (name, folder))
    if sharded:
        check(os.path.isfile(os.path.join(folder, "model.safetensors.index.json")),
              "%s: --max-shard-size did not produce a sharded folder" % name)
    run([lmforge, "convert", folder, b, "--outtype", "f32"], timeout=120)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        same = fa.read() == fb.read()
    check(same, "%s: HF -> GGUF -> HF -> GGUF is not byte-identical: %s" % (name, first_difference(a, b)))

    orig = load_hf_state_dict(src)
    back = load_hf_state_dict(folder)
    orig = {k: v for k, v in orig.items() if not k.endswith("rotary_emb.inv_freq")}
    if model["tied"] and "lm_head.weight" in back:
        check(torch.equal(back["lm_head.weight"].float(), orig["model.embed_tokens.weight"].float()),
              "%s: lm_head.weight written for a tied model differs from the embedding" % name)
        del back["lm_head.weight"]
    check(set(back) == set(orig), "%s: tensors after the round trip: extra %s, missing %s"
          % (name, sorted(set(back) - set(orig)), sorted(set(orig) - set(back))))
    for k, v in orig.items():
        w = back[k]
        check(list(w.shape) == list(v.shape), "%s: %s shape %s, originally %s" % (name, k, list(w.shape),
                                                                                 list(v.shape)))
        check(torch.equal(w.float(), v.float()), "%s: %s values changed (max |diff| %.3g)%s" % (
            name, k, (w.float() - v.float()).abs().max(),
            " -- Q/K permutation not inverted?" if "q_proj" in k or "k_proj" in k else ""))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    for key in CONFIG_KEYS:
        want = model["config"][key]
        got = cfg.get(key)
        ok = got is not None and (abs(float(got) - float(want)) <= 1e-6 * abs(float(want))
                                  if isinstance(want, float) else got == want)
        check(ok, "%s: config.json %s = %r after the round trip, originally %r" % (name, key, got, want))
    if model["config"].get("rope_scaling"):
        rs = cfg.get("rope_scaling") or {}
        check(rs.get("type", rs.get("rope_type")) == "linear" and float(rs.get("factor", 0)) == 2.0,
              "%s: rope_scaling %r after the round trip" % (name, cfg.get("rope_scaling")))
    check(os.path.isfile(os.path.join(folder, "tokenizer.model")) or
          os.path.isfile(os.path.join(folder, "tokenizer.json")),
          "%s: the HF folder written from GGUF has no tokenizer" % name)
    print("%-28s HF -> GGUF -> HF -> GGUF byte-identical (%d bytes); %d tensors restored exactly"
          % (name, os.path.getsize(a), len(orig)), flush=True)


def roundtrip_pt(lmforge, fixtures, work, rel):
    src = os.path.join(fixtures, rel)
    dst = os.path.join(work, os.path.basename(rel).rsplit(".", 1)[0] + ".safetensors")
    if os.path.exists(dst):
        os.remove(dst)
    run([lmforge, "convert", src, dst], timeout=60)
    got, _ = read_safetensors(dst)
    want = torch.load(src, map_location="cpu", weights_only=True)  # our own fixture
    check(list(got) == list(want) or set(got) == set(want),
          "%s: names %s, torch.load gives %s" % (rel, sorted(got), sorted(want)))
    for k, v in want.items():
        check(bits_equal(got[k], v.contiguous()), "%s: tensor %s differs: %s %s vs torch %s %s"
              % (rel, k, got[k].dtype, list(got[k].shape), v.dtype, list(v.shape)))
    print("%-28s -> safetensors: %d tensors bit-identical to torch.load" % (rel, len(want)), flush=True)


def main():
    ap = base_args(__doc__.split("\n")[0])
    args = ap.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "roundtrip")
    manifest = fixture_manifest(fixtures)
    failures = []
    jobs = [(roundtrip_model, m) for m in manifest["models"]] + \
           [(roundtrip_pt, p) for p in manifest["single_checkpoints"]]
    for fn, item in jobs:
        try:
            fn(args.lmforge, fixtures, work, item)
        except CheckFailed as e:
            print("FAILED: %s" % e, flush=True)
            failures.append(str(e))
    check(not failures, "%d round trips failed:\n  %s" % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_roundtrip", main)
