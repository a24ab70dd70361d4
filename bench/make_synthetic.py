#!/usr/bin/python3
"""Writes a synthetic LLaMA checkpoint in Hugging Face layout, for conversion benchmarks.

    make_synthetic.py OUTDIR [--shape tinyllama] [--format safetensors|bin] [--shards N]

Random f16 weights (speed does not depend on the values), TinyLlama-1.1B's shape by default:
dim 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000. safetensors is written by
hand (no safetensors package on Debian); .bin shards with Debian's torch. A tokenizer.model
is trained with spm_train on a small text so the folder converts to a complete GGUF.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

SHAPES = {
    "tinyllama": dict(hidden=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000),
    "llama7b": dict(hidden=4096, layers=32, heads=32, kv_heads=32, ffn=11008, vocab=32000),
    "small": dict(hidden=256, layers=2, heads=8, kv_heads=2, ffn=704, vocab=32000),
    # about 120M parameters, for the training benchmark (bench/train_bench.py)
    "llama100m": dict(hidden=768, layers=12, heads=12, kv_heads=4, ffn=2048, vocab=32000),
}


def tensor_specs(s):
    hd = s["hidden"] // s["heads"]
    out = [("model.embed_tokens.weight", (s["vocab"], s["hidden"]))]
    for i in range(s["layers"]):
        p = "model.layers.%d." % i
        out += [
            (p + "input_layernorm.weight", (s["hidden"],)),
            (p + "self_attn.q_proj.weight", (s["heads"] * hd, s["hidden"])),
            (p + "self_attn.k_proj.weight", (s["kv_heads"] * hd, s["hidden"])),
            (p + "self_attn.v_proj.weight", (s["kv_heads"] * hd, s["hidden"])),
            (p + "self_attn.o_proj.weight", (s["hidden"], s["heads"] * hd)),
            (p + "post_attention_layernorm.weight", (s["hidden"],)),
            (p + "mlp.gate_proj.weight", (s["ffn"], s["hidden"])),
            (p + "mlp.down_proj.weight", (s["hidden"], s["ffn"])),
            (p + "mlp.up_proj.weight", (s["ffn"], s["hidden"])),
        ]
    out += [("model.norm.weight", (s["hidden"],)), ("lm_head.weight", (s["vocab"], s["hidden"]))]
    return out


def random_f16(shape, rng):
    n = int(np.prod(shape))
    return (rng.standard_normal(n, dtype=np.float32) * 0.02).astype(np.float16).reshape(shape)


def split_shards(specs, n):
    total = sum(int(np.prod(sh)) for _, sh in specs)
    shards, cur, acc = [], [], 0
    for name, sh in specs:
        cur.append((name, sh))
        acc += int(np.prod(sh))
        if acc >= total * (len(shards) + 1) / n and len(shards) < n - 1:
            shards.append(cur)
            cur = []
    shards.append(cur)
    return [s for s in shards if s]


def write_safetensors(path, specs, rng):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, sh in specs:
        nbytes = int(np.prod(sh)) * 2
        header[name] = {"dtype": "F16", "shape": list(sh), "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, sh in specs:
            f.write(random_f16(sh, rng).tobytes())


def write_bin(path, specs, rng):
    import torch
    sd = {name: torch.from_numpy(random_f16(sh, rng)) for name, sh in specs}
    torch.save(sd, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--shape", default="tinyllama", choices=sorted(SHAPES))
    ap.add_argument("--format", default="safetensors", choices=["safetensors", "bin"])
    ap.add_argument("--shards", type=int, default=1)
    a = ap.parse_args()
    s = SHAPES[a.shape]
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(0)
    specs = tensor_specs(s)
    shards = split_shards(specs, a.shards)
    ext = ".safetensors" if a.format == "safetensors" else ".bin"
    prefix = "model" if a.format == "safetensors" else "pytorch_model"
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = prefix + ext if len(shards) == 1 else "%s-%05d-of-%05d%s" % (prefix, i + 1, len(shards), ext)
        path = os.path.join(a.outdir, fname)
        (write_safetensors if a.format == "safetensors" else write_bin)(path, shard, rng)
        for name, _ in shard:
            weight_map[name] = fname
    if len(shards) > 1:
        total = sum(int(np.prod(sh)) * 2 for _, sh in specs)
        with open(os.path.join(a.outdir, prefix + ext + ".index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["hidden"],
        "intermediate_size": s["ffn"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"], "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "vocab_size": s["vocab"], "tie_word_embeddings": False,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16",
    }
    with open(os.path.join(a.outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(a.outdir, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"}, f, indent=2)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w") as f:
            for name in sorted(os.listdir("/usr/share/common-licenses")):
                p = os.path.join("/usr/share/common-licenses", name)
                if os.path.isfile(p):
                    f.write(open(p, errors="replace").read())
        subprocess.run(["spm_train", "--input=" + corpus, "--model_prefix=" + os.path.join(a.outdir, "tokenizer"),
                        "--model_type=bpe", "--vocab_size=2000", "--byte_fallback=true", "--split_digits=true",
                        "--normalization_rule_name=identity", "--character_coverage=1.0", "--minloglevel=2"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.remove(os.path.join(a.outdir, "tokenizer.vocab"))
    print("wrote", a.outdir, file=sys.stderr)


if __name__ == "__main__":
    main()
