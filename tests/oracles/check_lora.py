#!/usr/bin/python3
"""LoRA adapters (issue 13, deliver 4) against implementations nobody here wrote.

A random adapter (rank 4, alpha 8, all seven targets, both layers) is made here with numpy as a
PEFT folder (adapter_config.json + adapter_model.safetensors written by hand: header JSON + raw
little-endian floats, Hugging Face row order) for the GQA fixture model (6 query heads, 2 KV
heads), whose HF folder is converted to an f32 GGUF base. Then:
  (b) PyTorch: the float64 reference forward pass (torch_reference.py) with every target weight
      replaced by W + s·B A, s = lora_scale·alpha/r, equals `lmforge logits --all --lora PEFT
      --lora-scale S` (reference and fast engines) to max |dp| <= TOL;
  (a) llama.cpp: `lmforge lora-convert` writes the adapter as a GGUF adapter; node-llama-cpp's
      context `lora` option applies it to the same base, and lmforge's probabilities with
      `--lora ADAPTER.gguf --lora-scale S` equal llama.cpp's to TOL (oracle.llama_probs' f32
      tolerance), same top-1 token everywhere;
  (c) PEFT export: `lmforge lora-convert` from that GGUF back to a PEFT folder; numpy reads its
      safetensors (every tensor bit-identical to the one made here, rows of q/k back in HF
      order) and its config (r, lora_alpha, target_modules);
      `lmforge convert BASE MERGED.gguf --lora A.gguf` (f32) gives the PyTorch probabilities
      without any adapter flag, and its q8_0 output stays within the q8_0 tolerance;
  (d) bad input: an adapter for another base (the MHA fixture), unknown target names, mixed
      ranks, rsLoRA (folded into alpha: equals PyTorch at alpha/sqrt(r)), DoRA, a model given as
      an adapter, truncated files: exit status 1 with one error line naming the problem, never a
      crash.
  (e) qwen2 (the qwen2-bias variant: NEOX rotation, q/k/v biases, Q/K rows in Hugging Face order
      in its GGUF): the same PEFT adapter against PyTorch; `lora-convert` writes a GGUF adapter
      whose general.architecture is "qwen2" (llama.cpp refuses one that does not match its
      base) and whose q/k B rows are not permuted; llama.cpp with it equals lmforge; merging
      with `convert --lora` equals PyTorch; a llama adapter on the qwen2 base is refused.
  (f) embeddings: `lmforge embed -m BASE --lora A.gguf --lora-scale S` equals `embed` of the
      merged model of (c) (to TOL_EMBED) and differs from the base's by more than 20 x that;
      `index --lora` / `ask --lora` score chunks by those embeddings' cosines, and `ask` without
      the adapter is refused (the index records it in its model hash); `--lora` on the hashing
      embedder is a usage error; `serve --lora`'s /v1/embeddings (the served model embedding)
      equal the merged model's too.
Self-test: the adapter must move the probabilities by more than 20 x TOL (so that a run that
ignored it fails (a) and (b)), and lmforge with the adapter at another scale must fail (a).
"""

import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    lmforge_inspect, main_wrapper, run, run_node, sentencepiece_ids, workdir_for)
from serve_harness import Server  # noqa: E402
from torch_reference import Llama  # noqa: E402

TOL = 1e-4          # f32 probabilities, as oracle.llama_probs and oracle.forward
TOL_Q8_0 = 0.12     # q8_0 weights and activations (oracle.llama_probs)
TOL_EMBED = 1e-5    # unit vectors, f32: B (A x) added after W x, or (W + s B A) x
RANK, ALPHA, SCALE = 4, 8.0, 0.8
MODULES = [("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "o_proj"),
           ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj")]
N_PROMPTS = 3


def module_shape(cfg, module):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    h, ff = cfg["hidden_size"], cfg["intermediate_size"]
    q, kv = cfg["num_attention_heads"] * hd, (cfg.get("num_key_value_heads") or cfg["num_attention_heads"]) * hd
    return {"q_proj": (q, h), "k_proj": (kv, h), "v_proj": (kv, h), "o_proj": (h, q),
            "gate_proj": (ff, h), "up_proj": (ff, h), "down_proj": (h, ff)}[module]


def write_safetensors(path, tensors):
    """safetensors by hand: 8-byte header length, JSON header, raw little-endian data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors_np(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        check(e["dtype"] == "F32", "%s: %s is %s, not F32" % (path, name, e["dtype"]))
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + end], dtype="<f4").reshape(e["shape"])
    return out


def tensor_name(layer, block, module, ab):
    return "base_model.model.model.layers.%d.%s.%s.lora_%s.weight" % (layer, block, module, ab)


def make_adapter(cfg, seed):
    """{name: array} of a random rank-RANK adapter on every target of every layer (HF order)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(cfg["num_hidden_layers"]):
        for block, module in MODULES:
            out, inp = module_shape(cfg, module)
            tensors[tensor_name(layer, block, module, "A")] = rng.uniform(-1, 1, (RANK, inp)) / math.sqrt(inp)
            tensors[tensor_name(layer, block, module, "B")] = rng.normal(0, 0.05, (out, RANK))
    return {k: v.astype(np.float32) for k, v in tensors.items()}


def peft_config(**changes):
    c = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": ALPHA,
         "target_modules": [m for _, m in MODULES], "lora_dropout": 0.0, "bias": "none",
         "fan_in_fan_out": False, "use_rslora": False, "use_dora": False, "modules_to_save": None}
    c.update(changes)
    return c


def write_peft(folder, tensors, config):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    write_safetensors(os.path.join(folder, "adapter_model.safetensors"), tensors)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def torch_probs(folder, tensors, scale, ids):
    """Float64 PyTorch probabilities with W + scale·B A for every adapted weight."""
    ref = Llama(folder)
    for name in list(ref.w):
        if not name.endswith("_proj.weight"):
            continue
        a_name = "base_model.model." + name[:-len(".weight")] + ".lora_A.weight"
        b_name = "base_model.model." + name[:-len(".weight")] + ".lora_B.weight"
        if a_name in tensors:
            A = torch.from_numpy(tensors[a_name].astype(np.float64))
            B = torch.from_numpy(tensors[b_name].astype(np.float64))
            ref.w[name] = ref.w[name] + scale * (B @ A)
    with torch.no_grad():
        return [ref.probs(i).numpy() for i in ids]


def softmax(x):
    z = x - x.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def lmforge_probs(lmforge, gguf, ids, extra):
    out = []
    for i in ids:
        r = run([lmforge, "logits", "-m", gguf, "--ids", ",".join(map(str, i)), "--all"] + extra, timeout=300)
        out.append(softmax(np.array(json.loads(r.stdout)["logits"], dtype=np.float64)))
    return out


def worst(a_list, b_list):
    return max(float(np.abs(a - b).max()) for a, b in zip(a_list, b_list))


def same_top1(a_list, b_list):
    return all((a.argmax(-1) == b.argmax(-1)).all() for a, b in zip(a_list, b_list))


def llama_cpp_probs(gguf, work, ids, lora):
    req = os.path.join(work, "llama_cpp_request.json")
    with open(req, "w") as f:
        json.dump({"prompts": PROMPTS[:len(ids)], "ids": ids, "generate": 1, "probabilities": True,
                   "lora": lora}, f)
    out = run_node("llama_cpp.mjs", [gguf, req])
    return [np.array(r["probs"], dtype=np.float64) for r in out["results"]]


def expect_refused(lmforge, base, adapter, needle, what):
    r = run([lmforge, "logits", "-m", base, "--ids", "1,2,3", "--lora", adapter], check_rc=False)
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 1, "%s: exit status %d, expected 1 (stderr: %s)" % (what, r.returncode, err[-600:]))
    lines = [l for l in err.splitlines() if "error" in l]
    check(len(lines) == 1, "%s: expected one error line, got: %s" % (what, err[-600:]))
    check(needle in lines[0], "%s: the error does not say %r: %s" % (what, needle, lines[0]))
    return lines[0]


def embeddings(lm, model, textfile, extra):
    out = json.loads(run([lm, "embed", "-m", model, "-f", textfile, "--lines", "--json", "-t", "2"] + extra,
                         timeout=300).stdout)
    return np.array(out["embeddings"], dtype=np.float64)


def check_embeddings(lm, work, base, adapter, merged):
    """(f): --lora on embed, index and ask, against the merged model's embeddings."""
    lines = ["the quick brown fox jumps over the lazy dog", "a storm came in from the harbor at night",
             "bread and cheese for the long road", "tokens, vectors and a matrix"]
    textfile = os.path.join(work, "embed_lines.txt")
    with open(textfile, "w") as f:
        f.write("\n".join(lines) + "\n")
    flags = ["--lora", adapter, "--lora-scale", str(SCALE)]
    plain = embeddings(lm, base, textfile, [])
    adapted = embeddings(lm, base, textfile, flags)
    want = embeddings(lm, merged, textfile, [])
    moved, d = float(np.abs(adapted - plain).max()), float(np.abs(adapted - want).max())
    print("lora: (f) embed --lora vs the merged model: max |d| %.3g; the adapter moves the vectors by %.3g" % (d, moved),
          flush=True)
    check(moved > 20 * TOL_EMBED, "self-test: the adapter moves the embeddings by only %.3g" % moved)
    check(d <= TOL_EMBED, "(f) embed --lora differs from the merged model's embeddings by %.3g > %g" % (d, TOL_EMBED))

    docs = os.path.join(work, "embed_docs")
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "a.txt"), "w") as f:
        f.write("\n\n".join(lines) + "\n")
    db = os.path.join(work, "embed_index.db")
    for stale in (db, db + ".vectors", db + ".hnsw"):
        if os.path.exists(stale):
            os.remove(stale)
    run([lm, "index", "--db", db, "-m", base, docs, "--chunk-size", "60", "--chunk-overlap", "0", "-q"] + flags,
        timeout=300)
    question = "who jumps over the dog"
    out = json.loads(run([lm, "ask", "--db", db, question, "--retrieve-only", "--json", "--mode", "vector", "-k", "2"]
                         + flags, timeout=300).stdout)
    check(len(out["chunks"]) == 2, "(f) ask --lora returned %d chunks" % len(out["chunks"]))
    qfile = os.path.join(work, "embed_question.txt")
    for c in out["chunks"]:
        with open(qfile, "w") as f:
            f.write(question + "\n" + c["text"] + "\n")
        q, v = embeddings(lm, merged, qfile, [])
        check(abs(c["score"] - float(q @ v)) < 1e-4, "(f) chunk %r: index score %.6f, merged model's cosine %.6f"
              % (c["text"][:40], c["score"], float(q @ v)))
    r = run([lm, "ask", "--db", db, question, "--retrieve-only", "--mode", "vector"], check_rc=False)
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 1 and "embedded with" in err, "(f) ask without the index's adapter: exit %d, %s"
          % (r.returncode, err[-300:]))
    r = run([lm, "index", "--db", os.path.join(work, "hash.db"), "-m", "hash:32", docs] + flags, check_rc=False)
    check(r.returncode == 2, "(f) index -m hash:32 --lora: exit status %d, expected 2" % r.returncode)
    print("lora: (f) index/ask --lora score by the merged model's cosines; ask without the adapter refused",
          flush=True)

    # serve --lora: /v1/embeddings from the served model carries its adapters too.
    server = Server(lm, ["--lora", adapter, "--lora-scale", str(SCALE), "-t", "2"], model=base,
                    log_path=os.path.join(work, "serve_lora.log"))
    try:
        status, body = server.json("POST", "/v1/embeddings", {"model": os.path.basename(base), "input": lines})
    finally:
        server.stop()
    check(status == 200, "(f) serve --lora /v1/embeddings: HTTP %d %s" % (status, body))
    served = np.array([d["embedding"] for d in body["data"]], dtype=np.float64)
    d = float(np.abs(served - want).max())
    check(d <= TOL_EMBED, "(f) serve --lora /v1/embeddings differ from the merged model's by %.3g > %g" % (d, TOL_EMBED))
    print("lora: (f) serve --lora /v1/embeddings vs the merged model: max |d| %.3g" % d, flush=True)


def check_qwen2(lm, fixtures, work, ids, llama_adapter):
    """(e): a PEFT adapter on the qwen2-bias variant, through lmforge, PyTorch and llama.cpp."""
    folder = os.path.join(fixtures, "variants", "qwen2-bias")
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    base = os.path.join(work, "qwen2-f32.gguf")
    if os.path.exists(base):
        os.remove(base)
    run([lm, "convert", folder, base, "--outtype", "f32", "--quiet"], timeout=120)
    tensors = make_adapter(cfg, 4321)
    peft = os.path.join(work, "qwen2-peft")
    write_peft(peft, tensors, peft_config())
    want = torch_probs(folder, tensors, SCALE * ALPHA / RANK, ids)
    moved = worst(want, lmforge_probs(lm, base, ids, []))
    check(moved > 20 * TOL, "self-test: qwen2: the adapter moves the probabilities by only %.3g" % moved)
    got = lmforge_probs(lm, base, ids, ["-t", "2", "--lora", peft, "--lora-scale", str(SCALE)])
    d_torch = worst(want, got)
    check(d_torch <= TOL, "(e) qwen2 with the PEFT folder: max |dp| %.3g > %g vs PyTorch" % (d_torch, TOL))
    adapter = os.path.join(work, "qwen2-adapter.gguf")
    run([lm, "lora-convert", "-m", base, peft, adapter])
    info = lmforge_inspect(lm, adapter)
    arch = info["metadata"]["general.architecture"]["value"]
    check(arch == "qwen2", "(e) the qwen2 adapter says general.architecture %r" % arch)
    ours = lmforge_probs(lm, base, ids, ["-t", "2", "--lora", adapter, "--lora-scale", str(SCALE)])
    theirs = llama_cpp_probs(base, work, ids, [{"path": adapter, "scale": SCALE}])
    d = worst(ours, theirs)
    check(d <= TOL, "(e) qwen2: lmforge vs llama.cpp with the GGUF adapter: max |dp| %.3g > %g" % (d, TOL))
    check(same_top1(ours, theirs), "(e) qwen2: the top-1 tokens differ from llama.cpp's")
    check(worst(ours, want) <= TOL, "(e) qwen2: the GGUF adapter differs from PyTorch: %.3g" % worst(ours, want))
    merged = os.path.join(work, "qwen2-merged-f32.gguf")
    if os.path.exists(merged):
        os.remove(merged)
    run([lm, "convert", folder, merged, "--outtype", "f32", "--lora", peft, "--lora-scale", str(SCALE), "--quiet"],
        timeout=120)
    d_merged = worst(want, lmforge_probs(lm, merged, ids, ["--reference"]))
    check(d_merged <= TOL, "(e) qwen2: convert HF folder --lora PEFT: max |dp| %.3g > %g vs PyTorch" % (d_merged, TOL))
    expect_refused(lm, base, llama_adapter, "not the base's \"qwen2\"", "a llama adapter on a qwen2 base")
    print("lora: (e) qwen2: PEFT vs PyTorch %.3g, GGUF adapter (general.architecture qwen2) lmforge vs llama.cpp "
          "%.3g, merged vs PyTorch %.3g; the adapter moves the probabilities by %.3g" % (d_torch, d, d_merged, moved),
          flush=True)


def main():
    ap = base_args(__doc__)
    args = ap.parse_args()
    work = workdir_for(args, "lora")
    fixtures = args.fixtures
    manifest = fixture_manifest(fixtures)
    ids = sentencepiece_ids(os.path.join(fixtures, manifest["tokenizer"]), PROMPTS[:N_PROMPTS])
    lm = args.lmforge
    folder = os.path.join(fixtures, "hf", "gqa-safetensors-sharded")
    other_folder = os.path.join(fixtures, "hf", "mha-safetensors")
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(other_folder, "config.json")) as f:
        other_cfg = json.load(f)

    base = os.path.join(work, "base-f32.gguf")
    other_base = os.path.join(work, "other-f32.gguf")
    for src, dst in ((folder, base), (other_folder, other_base)):
        if os.path.exists(dst):
            os.remove(dst)
        run([lm, "convert", src, dst, "--outtype", "f32", "--quiet"], timeout=120)

    tensors = make_adapter(cfg, 1234)
    peft = os.path.join(work, "peft")
    write_peft(peft, tensors, peft_config())
    scale = SCALE * ALPHA / RANK

    # (b) PyTorch float64 with merged weights vs lmforge with the PEFT folder.
    want = torch_probs(folder, tensors, scale, ids)
    plain = lmforge_probs(lm, base, ids, [])
    moved = worst(want, plain)
    print("lora: the adapter moves the probabilities by up to %.3g" % moved, flush=True)
    check(moved > 20 * TOL, "self-test: the adapter moves the probabilities by only %.3g" % moved)
    for engine, flags in (("reference", ["--reference"]), ("fast", ["-t", "2"])):
        got = lmforge_probs(lm, base, ids, flags + ["--lora", peft, "--lora-scale", str(SCALE)])
        d = worst(want, got)
        print("lora: (b) PEFT folder, %s engine vs PyTorch: max |dp| %.3g" % (engine, d), flush=True)
        check(d <= TOL, "(b) %s engine with the PEFT folder: max |dp| %.3g > %g vs PyTorch" % (engine, d, TOL))

    # (a) our GGUF adapter, applied by llama.cpp and by lmforge.
    adapter = os.path.join(work, "adapter.gguf")
    run([lm, "lora-convert", "-m", base, peft, adapter])
    ours = lmforge_probs(lm, base, ids, ["-t", "2", "--lora", adapter, "--lora-scale", str(SCALE)])
    theirs = llama_cpp_probs(base, work, ids, [{"path": adapter, "scale": SCALE}])
    d = worst(ours, theirs)
    print("lora: (a) GGUF adapter, lmforge vs llama.cpp: max |dp| %.3g" % d, flush=True)
    check(d <= TOL, "(a) lmforge vs llama.cpp with the GGUF adapter: max |dp| %.3g > %g" % (d, TOL))
    check(same_top1(ours, theirs), "(a) the top-1 tokens differ from llama.cpp's")
    check(worst(ours, want) <= TOL, "(a) the GGUF adapter differs from PyTorch: %.3g" % worst(ours, want))
    wrong = lmforge_probs(lm, base, ids, ["-t", "2", "--lora", adapter, "--lora-scale", str(SCALE * 0.9)])
    check(worst(wrong, theirs) > TOL, "self-test: lmforge at another lora scale still matches llama.cpp")
    # Two adapters add up (llama.cpp applies both too). The second is a copy under another name:
    # llama.cpp keys the adapters it applies by the loaded adapter, so one file twice counts once.
    copy = os.path.join(work, "adapter-copy.gguf")
    shutil.copyfile(adapter, copy)
    both = lmforge_probs(lm, base, ids, ["-t", "2", "--lora-scaled", adapter, "0.5", "--lora", copy,
                                         "--lora-scale", "0.3"])
    theirs2 = llama_cpp_probs(base, work, ids, [{"path": adapter, "scale": 0.5}, {"path": copy, "scale": 0.3}])
    d = worst(both, theirs2)
    print("lora: (a) two adapters (scales 0.5 and 0.3), lmforge vs llama.cpp: max |dp| %.3g" % d, flush=True)
    check(d <= TOL, "(a) two adapters: max |dp| %.3g > %g" % (d, TOL))

    # (c) PEFT export read back with numpy.
    exported = os.path.join(work, "peft-export")
    if os.path.exists(exported):
        shutil.rmtree(exported)
    run([lm, "lora-convert", "-m", base, adapter, exported])
    back = read_safetensors_np(os.path.join(exported, "adapter_model.safetensors"))
    check(set(back) == set(tensors), "(c) exported tensor names differ: %s" % sorted(set(back) ^ set(tensors))[:4])
    for name, arr in tensors.items():
        check(back[name].shape == arr.shape and np.array_equal(back[name], arr),
              "(c) exported %s differs from the original" % name)
    with open(os.path.join(exported, "adapter_config.json")) as f:
        econf = json.load(f)
    check(econf["r"] == RANK and econf["lora_alpha"] == ALPHA and econf["peft_type"] == "LORA",
          "(c) exported config says r %s alpha %s" % (econf.get("r"), econf.get("lora_alpha")))
    check(sorted(econf["target_modules"]) == sorted(m for _, m in MODULES), "(c) target_modules %s" % econf["target_modules"])
    check(not econf.get("use_rslora") and not econf.get("use_dora"), "(c) exported config has a variant set")
    again = os.path.join(work, "adapter-again.gguf")
    run([lm, "lora-convert", "-m", base, exported, again])
    with open(adapter, "rb") as f1, open(again, "rb") as f2:
        check(f1.read() == f2.read(), "(c) GGUF -> PEFT -> GGUF is not byte-identical")
    print("lora: (c) PEFT export: %d tensors bit-identical, config ok, GGUF round trip byte-identical" % len(back),
          flush=True)

    # Merging: convert --lora gives the merged model's probabilities without any adapter flag.
    merged = os.path.join(work, "merged-f32.gguf")
    merged_q8 = os.path.join(work, "merged-q8_0.gguf")
    for path in (merged, merged_q8):
        if os.path.exists(path):
            os.remove(path)
    run([lm, "convert", base, merged, "--lora", adapter, "--lora-scale", str(SCALE), "--quiet"], timeout=120)
    d = worst(want, lmforge_probs(lm, merged, ids, ["--reference"]))
    print("lora: convert --lora (f32) vs PyTorch: max |dp| %.3g" % d, flush=True)
    check(d <= TOL, "convert --lora f32: max |dp| %.3g > %g vs PyTorch" % (d, TOL))
    check_embeddings(lm, work, base, adapter, merged)
    run([lm, "convert", folder, merged_q8, "--outtype", "q8_0", "--lora", peft, "--lora-scale", str(SCALE), "--quiet"],
        timeout=120)
    q8 = lmforge_probs(lm, merged_q8, ids, ["-t", "2"])
    d_q8 = worst(q8, llama_cpp_probs(merged_q8, work, ids, None))
    print("lora: convert HF folder --lora PEFT to q8_0: lmforge vs llama.cpp %.3g, vs PyTorch f64 %.3g" %
          (d_q8, worst(q8, want)), flush=True)
    check(d_q8 <= TOL_Q8_0 and worst(q8, want) <= TOL_Q8_0, "convert --lora q8_0 is too far from the merged model")

    # (d) bad input.
    other = os.path.join(work, "peft-other")
    write_peft(other, make_adapter(other_cfg, 7), peft_config())
    e = expect_refused(lm, base, other, "another base", "an adapter for another base")
    check("k_proj" in e, "the other-base error does not name the tensor: %s" % e)
    bad = os.path.join(work, "peft-bad")
    write_peft(bad, tensors, peft_config(target_modules=["q_proj", "lm_head"]))
    expect_refused(lm, base, bad, "unknown target module \"lm_head\"", "unknown target in the config")
    odd = dict(tensors)
    odd["base_model.model.model.layers.0.self_attn.q_norm.lora_A.weight"] = np.zeros((RANK, 96), np.float32)
    write_peft(bad, odd, peft_config())
    expect_refused(lm, base, bad, "q_norm", "unknown target tensor")
    mixed = dict(tensors)
    out, inp = module_shape(cfg, "v_proj")
    mixed[tensor_name(1, "self_attn", "v_proj", "A")] = np.zeros((2, inp), np.float32)
    mixed[tensor_name(1, "self_attn", "v_proj", "B")] = np.zeros((out, 2), np.float32)
    write_peft(bad, mixed, peft_config())
    expect_refused(lm, base, bad, "mixed ranks", "mixed ranks")
    write_peft(bad, tensors, peft_config(use_dora=True))
    expect_refused(lm, base, bad, "DoRA", "DoRA")
    expect_refused(lm, base, base, "general.type", "a model given as an adapter")
    # rsLoRA: scale alpha / sqrt(r), folded into alpha and said so.
    write_peft(bad, tensors, peft_config(use_rslora=True))
    r = run([lm, "logits", "-m", base, "--ids", "1,2,3", "--lora", bad])
    check(b"rsLoRA" in r.stderr, "rsLoRA is not reported on stderr")
    rs_want = torch_probs(folder, tensors, SCALE * ALPHA / math.sqrt(RANK), ids)
    d = worst(rs_want, lmforge_probs(lm, base, ids, ["--lora", bad, "--lora-scale", str(SCALE)]))
    check(d <= TOL, "rsLoRA: max |dp| %.3g > %g vs PyTorch at alpha/sqrt(r)" % (d, TOL))
    # Truncated files.
    with open(adapter, "rb") as f:
        gguf_bytes = f.read()
    cut = os.path.join(work, "cut.gguf")
    for n in (10, 100, len(gguf_bytes) // 2, len(gguf_bytes) - 1):
        with open(cut, "wb") as f:
            f.write(gguf_bytes[:n])
        r = run([lm, "logits", "-m", base, "--ids", "1,2", "--lora", cut], check_rc=False)
        check(r.returncode == 1, "a GGUF adapter cut at %d bytes: exit status %d" % (n, r.returncode))
    write_peft(bad, tensors, peft_config())
    st = os.path.join(bad, "adapter_model.safetensors")
    with open(st, "rb") as f:
        st_bytes = f.read()
    for n in (4, 100, len(st_bytes) - 3):
        with open(st, "wb") as f:
            f.write(st_bytes[:n])
        r = run([lm, "logits", "-m", base, "--ids", "1,2", "--lora", bad], check_rc=False)
        check(r.returncode == 1, "adapter_model.safetensors cut at %d bytes: exit status %d" % (n, r.returncode))
    with open(os.path.join(bad, "adapter_config.json"), "w") as f:
        f.write(json.dumps(peft_config())[:40])
    r = run([lm, "logits", "-m", base, "--ids", "1,2", "--lora", bad], check_rc=False)
    check(r.returncode == 1, "a truncated adapter_config.json: exit status %d" % r.returncode)
    r = run([lm, "logits", "-m", base, "--ids", "1,2", "--lora-scale", "2"], check_rc=False)
    check(r.returncode == 2, "--lora-scale without --lora: exit status %d, expected 2" % r.returncode)
    print("lora: (d) bad input refused with one error line each", flush=True)

    check_qwen2(lm, fixtures, work, ids, adapter)


if __name__ == "__main__":
    main_wrapper("oracle.lora", main)
