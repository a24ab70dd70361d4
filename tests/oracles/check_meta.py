#!/usr/bin/python3
"""Meta consolidated checkpoints (params.json + consolidated.NN.pth) against PyTorch and llama.cpp.

A tiny random GQA llama is written with torch the way Meta's release stores it: one torch.save
dict per model-parallel rank, each tensor cut as fairscale's layers in Meta's model.py cut it
(ColumnParallelLinear wq/wk/wv/w1/w3/output: rows; RowParallelLinear wo/w2: columns;
ParallelEmbedding: embedding width, or the vocabulary for Llama 3's VocabParallelEmbedding;
norms and rope.freqs replicated), params.json with multiple_of and ffn_dim_multiplier, and the
fixtures' tokenizer.model. Then:

  1. DIR -> HF folder: every tensor equals torch.cat of the shards, with wq/wk rows permuted by
     transformers' convert_llama_weights_to_hf.py rule (view(heads, d/heads/2, 2, in)
     .transpose(1, 2)), written out independently here; config.json as params.json says.
  2. A float64 forward pass written here in Meta's convention (complex rotation of adjacent
     pairs, repeat_kv) on the shards' values, against
       - torch_reference.py (Hugging Face rotate_half convention) on the HF folder: ~1e-12;
       - `lmforge logits` on DIR -> GGUF: f32 compute on f16 weights;
       - llama.cpp (node-llama-cpp) on the same GGUF: probabilities and top-1.
  3. A Llama-3 style split (embedding cut along the vocabulary) merges the same way.
  4. Bad folders (shards that disagree in shape, a missing shard, params.json contradicting the
     tensors, numbering with a gap): exit 1, one `lmforge: error:` line, no output.
"""

import json
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CheckFailed, PROMPTS, base_args, check, fixture_manifest,  # noqa: E402
                    load_hf_config, load_hf_state_dict, main_wrapper, run, run_node,
                    sentencepiece_ids, workdir_for)

HERE = os.path.dirname(os.path.abspath(__file__))

PARAMS = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": -1,
          "multiple_of": 32, "ffn_dim_multiplier": 1.3, "norm_eps": 1e-5, "rope_theta": 10000.0}
N_SHARDS = 2
ROWS = ("attention.wq", "attention.wk", "attention.wv", "feed_forward.w1", "feed_forward.w3")
COLS = ("attention.wo", "feed_forward.w2")


def ffn_width(p):
    """model.py's FeedForward hidden size, written out from its definition."""
    h = int(2 * (4 * p["dim"]) / 3)
    if p.get("ffn_dim_multiplier") is not None:
        h = int(p["ffn_dim_multiplier"] * h)
    m = p["multiple_of"]
    return m * ((h + m - 1) // m)


def make_model(p, vocab, seed):
    """Full (unsharded) f16 weights in Meta naming."""
    g = torch.Generator().manual_seed(seed)
    dim, hd = p["dim"], p["dim"] // p["n_heads"]
    kv = p["n_kv_heads"] * hd
    ff = ffn_width(p)

    def rnd(*shape, std):
        return (torch.randn(*shape, generator=g) * std).to(torch.float16)

    w = {"tok_embeddings.weight": rnd(vocab, dim, std=1.0),
         "norm.weight": (1 + rnd(dim, std=0.1).float()).half(),
         "output.weight": rnd(vocab, dim, std=0.15)}
    for l in range(p["n_layers"]):
        pre = "layers.%d." % l
        w[pre + "attention.wq.weight"] = rnd(dim, dim, std=0.25)
        w[pre + "attention.wk.weight"] = rnd(kv, dim, std=0.25)
        w[pre + "attention.wv.weight"] = rnd(kv, dim, std=0.15)
        w[pre + "attention.wo.weight"] = rnd(dim, dim, std=0.15)
        w[pre + "feed_forward.w1.weight"] = rnd(ff, dim, std=0.15)
        w[pre + "feed_forward.w2.weight"] = rnd(dim, ff, std=0.15)
        w[pre + "feed_forward.w3.weight"] = rnd(ff, dim, std=0.15)
        w[pre + "attention_norm.weight"] = (1 + rnd(dim, std=0.1).float()).half()
        w[pre + "ffn_norm.weight"] = (1 + rnd(dim, std=0.1).float()).half()
    return w


def split_dim(name, vocab_parallel):
    """The dimension Meta's model-parallel layer cuts this tensor along, or None (replicated)."""
    part = name.split(".", 2)[2] if name.startswith("layers.") else name
    part = part[:-len(".weight")] if part.endswith(".weight") else part
    if part in ROWS or part == "output":
        return 0
    if part in COLS:
        return 1
    if part == "tok_embeddings":
        return 0 if vocab_parallel else 1
    return None


def write_meta_dir(d, p, full, tokenizer, n_shards, vocab_parallel=False, rope_freqs=True):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    hd = p["dim"] // p["n_heads"]
    for k in range(n_shards):
        shard = {}
        for name, t in full.items():
            dim = split_dim(name, vocab_parallel)
            # clone: each piece gets its own storage, as each rank saved its own tensors
            shard[name] = t.clone() if dim is None else torch.chunk(t, n_shards, dim)[k].clone()
        if rope_freqs:
            shard["rope.freqs"] = (1.0 / (p["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))).half()
        torch.save(shard, os.path.join(d, "consolidated.%02d.pth" % k))
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump(p, f)
    shutil.copy(tokenizer, os.path.join(d, "tokenizer.model"))


# ---------------------------------------------------------------------------------------------
# the float64 reference, in Meta's convention

def meta_forward(w, p, ids):
    """Logits [len(ids), vocab] of Meta's Transformer.forward, float64."""
    W = {k: v.to(torch.float64) for k, v in w.items()}
    dim, nh, nkv = p["dim"], p["n_heads"], p["n_kv_heads"]
    hd, eps, n = dim // nh, p["norm_eps"], len(ids)

    def norm(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g

    freqs = 1.0 / (p["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64)[: hd // 2] / hd))
    angles = torch.outer(torch.arange(n, dtype=torch.float64), freqs)
    cis = torch.polar(torch.ones_like(angles), angles)  # [n, hd/2]

    def rope(x):  # x [n, heads, hd]: adjacent pairs are (real, imaginary)
        xc = torch.view_as_complex(x.reshape(n, x.shape[1], hd // 2, 2).contiguous())
        return torch.view_as_real(xc * cis[:, None, :]).reshape(x.shape)

    h = W["tok_embeddings.weight"][torch.tensor(ids)]
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(p["n_layers"]):
        pre = "layers.%d." % l
        x = norm(h, W[pre + "attention_norm.weight"])
        q = rope((x @ W[pre + "attention.wq.weight"].T).view(n, nh, hd))
        k = rope((x @ W[pre + "attention.wk.weight"].T).view(n, nkv, hd))
        v = (x @ W[pre + "attention.wv.weight"].T).view(n, nkv, hd)
        k = k.repeat_interleave(nh // nkv, dim=1)  # repeat_kv: kv head j serves q heads j*r..j*r+r-1
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
        att = torch.einsum("hqk,khd->qhd", torch.softmax(scores, -1), v).reshape(n, dim)
        h = h + att @ W[pre + "attention.wo.weight"].T
        x = norm(h, W[pre + "ffn_norm.weight"])
        a = x @ W[pre + "feed_forward.w1.weight"].T
        h = h + ((a * torch.sigmoid(a)) * (x @ W[pre + "feed_forward.w3.weight"].T)) @ W[pre + "feed_forward.w2.weight"].T
    return norm(h, W["norm.weight"]) @ W["output.weight"].T


def hf_permute(w, heads):
    """transformers' convert_llama_weights_to_hf.py row order for wq / wk."""
    d1, d2 = w.shape
    return w.view(heads, d1 // heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)


def expected_hf(full, p):
    names = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    parts = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
             "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
             "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
             "feed_forward.w3": "mlp.up_proj", "attention_norm": "input_layernorm",
             "ffn_norm": "post_attention_layernorm"}
    out = {}
    for name, t in full.items():
        if name in names:
            hf = names[name]
        else:
            _, l, rest = name.split(".", 2)
            hf = "model.layers.%s.%s.weight" % (l, parts[rest[:-len(".weight")]])
        if name.endswith("attention.wq.weight"):
            t = hf_permute(t, p["n_heads"])
        elif name.endswith("attention.wk.weight"):
            t = hf_permute(t, p["n_kv_heads"])
        out[hf] = t
    return out


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def check_hf_folder(tag, hf_dir, full, p, vocab):
    sd = load_hf_state_dict(hf_dir)
    want = expected_hf(full, p)
    check(set(sd) == set(want), "%s: HF tensor names differ: extra %s, missing %s"
          % (tag, sorted(set(sd) - set(want))[:5], sorted(set(want) - set(sd))[:5]))
    for name, t in want.items():
        got = sd[name]
        if got.dim() == 1:
            got = got.to(torch.float16)  # norms are written F32; their values are the f16 ones
        check(got.dtype == t.dtype and got.shape == t.shape and torch.equal(got, t),
              "%s: %s differs from torch.cat of the shards (HF row order)" % (tag, name))
    cfg = load_hf_config(hf_dir)
    expect = {"hidden_size": p["dim"], "num_hidden_layers": p["n_layers"], "num_attention_heads": p["n_heads"],
              "num_key_value_heads": p["n_kv_heads"], "intermediate_size": ffn_width(p), "vocab_size": vocab}
    for k, v in expect.items():
        check(cfg.get(k) == v, "%s: config.json %s = %s, expected %s" % (tag, k, cfg.get(k), v))
    check(abs(cfg.get("rms_norm_eps", 0) - p["norm_eps"]) < 1e-9, "%s: rms_norm_eps %s" % (tag, cfg.get("rms_norm_eps")))
    print("  %s: %d HF tensors equal torch.cat of %d shards (wq/wk in HF row order); config.json matches params.json "
          "(n_ff %d)" % (tag, len(want), N_SHARDS, ffn_width(p)), flush=True)


def expect_refusal(lmforge, tag, src, work, fragment):
    dst = os.path.join(work, "refused.gguf")
    if os.path.exists(dst):
        os.remove(dst)
    r = run([lmforge, "convert", src, dst], check_rc=False)
    err = r.stderr.decode(errors="replace").strip().splitlines()
    check(r.returncode == 1, "%s: exit status %d, expected 1 (stderr %s)" % (tag, r.returncode, err))
    check(len(err) == 1 and err[0].startswith("lmforge: error: "), "%s: expected one error line, got %s" % (tag, err))
    check(fragment in err[0], "%s: error line does not mention %r: %s" % (tag, fragment, err[0]))
    check(not os.path.exists(dst), "%s: an output file was left behind" % tag)
    print("  %s: refused: %s" % (tag, err[0]), flush=True)


def main():
    args = base_args(__doc__.splitlines()[0]).parse_args()
    work = workdir_for(args, "meta")
    manifest = fixture_manifest(args.fixtures)
    tokenizer = os.path.join(args.fixtures, manifest["tokenizer"])
    vocab = manifest["vocab_size"]
    p = dict(PARAMS)
    full = make_model(p, vocab, seed=4)
    meta_dir = os.path.join(work, "meta-gqa")
    write_meta_dir(meta_dir, p, full, tokenizer, N_SHARDS)

    # 1. HF folder: merge + permutation, tensor by tensor
    hf_dir = os.path.join(work, "meta-gqa-hf")
    shutil.rmtree(hf_dir, ignore_errors=True)
    run([args.lmforge, "convert", meta_dir, hf_dir, "-q"])
    check_hf_folder("meta->hf", hf_dir, full, p, vocab)

    # 2. forward passes
    sp_ids = sentencepiece_ids(tokenizer, PROMPTS)
    ref_logits = [meta_forward(full, p, ids).numpy() for ids in sp_ids]
    ref_probs = [softmax(l) for l in ref_logits]

    out = run([sys.executable, os.path.join(HERE, "torch_reference.py"), hf_dir]
              + sum([["--ids", ",".join(map(str, ids))] for ids in sp_ids], []), timeout=300)
    hf_res = json.loads(out.stdout)
    worst = max(float(np.abs(np.array(r["probs"]) - rp).max()) for r, rp in zip(hf_res, ref_probs))
    check(worst < 1e-9, "HF folder through torch_reference.py (rotate_half) vs Meta-convention float64: "
          "max |dp| = %.3g" % worst)
    print("  torch_reference.py on the HF folder vs Meta-convention float64 forward: max |dp| = %.2g" % worst, flush=True)

    gguf = os.path.join(work, "meta-gqa.gguf")
    if os.path.exists(gguf):
        os.remove(gguf)
    run([args.lmforge, "convert", meta_dir, gguf, "-q"])
    worst_logit, scale = 0.0, 0.0
    for ids, ref in zip(sp_ids, ref_logits):
        r = run([args.lmforge, "logits", "-m", gguf, "--ids", ",".join(map(str, ids)), "--all"])
        got = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
        check(got.shape == ref.shape, "lmforge logits shape %s, expected %s" % (got.shape, ref.shape))
        worst_logit = max(worst_logit, float(np.abs(got - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    check(worst_logit <= 2e-3 * max(scale, 1.0), "lmforge logits on the GGUF vs float64: max |dlogit| = %.3g "
          "(logits up to %.2f)" % (worst_logit, scale))
    print("  lmforge logits on DIR->GGUF vs float64: max |dlogit| = %.2g (|logit| up to %.1f)"
          % (worst_logit, scale), flush=True)

    req = os.path.join(work, "request.json")
    with open(req, "w") as f:
        json.dump({"prompts": PROMPTS, "ids": sp_ids, "generate": 4, "probabilities": True}, f)
    res = run_node("llama_cpp.mjs", [gguf, req])
    check(res["vocab_size"] == vocab, "llama.cpp sees %s tokens, expected %d" % (res["vocab_size"], vocab))
    worst, agree, total = 0.0, 0, 0
    for i, (r, rp) in enumerate(zip(res["results"], ref_probs)):
        check(r["tokens"] == sp_ids[i], "llama.cpp tokenizes prompt %d as %s, SentencePiece as %s"
              % (i, r["tokens"], sp_ids[i]))
        pr = np.array(r["probs"], dtype=np.float64)
        check(pr.shape == rp.shape, "llama.cpp probabilities of shape %s, expected %s" % (pr.shape, rp.shape))
        worst = max(worst, float(np.abs(pr - rp).max()))
        agree += int((pr.argmax(-1) == rp.argmax(-1)).sum())
        total += rp.shape[0]
    check(worst <= 1e-2, "llama.cpp vs float64: max |dp| = %.3g > 1e-2" % worst)
    check(agree >= 0.95 * total, "llama.cpp agrees on the top-1 token at %d of %d positions" % (agree, total))
    print("  llama.cpp on DIR->GGUF vs float64: max |dp| = %.2g, top-1 agrees at %d/%d positions"
          % (worst, agree, total), flush=True)

    # 3. Llama 3 style: embedding cut along the vocabulary, no rope.freqs, one more layer kind of params
    p3 = dict(PARAMS, ffn_dim_multiplier=None, multiple_of=64, rope_theta=500000.0)
    full3 = make_model(p3, vocab, seed=5)
    d3 = os.path.join(work, "meta-vocab-parallel")
    write_meta_dir(d3, p3, full3, tokenizer, N_SHARDS, vocab_parallel=True, rope_freqs=False)
    hf3 = os.path.join(work, "meta-vocab-parallel-hf")
    shutil.rmtree(hf3, ignore_errors=True)
    run([args.lmforge, "convert", d3, hf3, "-q"])
    check_hf_folder("vocab-parallel->hf", hf3, full3, p3, vocab)

    # 4. bad folders
    def variant(tag):
        d = os.path.join(work, "bad-" + tag)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(meta_dir, d)
        return d

    d = variant("shape")
    shard = torch.load(os.path.join(d, "consolidated.01.pth"))
    shard["layers.1.attention.wv.weight"] = shard["layers.1.attention.wv.weight"][:8].clone()
    torch.save(shard, os.path.join(d, "consolidated.01.pth"))
    expect_refusal(args.lmforge, "shards disagree", d, work, "layers.1.attention.wv.weight")

    d = variant("missing")
    os.remove(os.path.join(d, "consolidated.01.pth"))
    expect_refusal(args.lmforge, "missing shard", d, work, "params.json")

    d = variant("params")
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump(dict(PARAMS, n_kv_heads=4), f)
    expect_refusal(args.lmforge, "params.json contradicts", d, work, "attention.wk.weight")

    d = variant("gap")
    os.rename(os.path.join(d, "consolidated.01.pth"), os.path.join(d, "consolidated.02.pth"))
    expect_refusal(args.lmforge, "numbering gap", d, work, "consolidated.02.pth")


if __name__ == "__main__":
    main_wrapper("check_meta", main)
