#!/usr/bin/python3
"""Generate lmforge's test fixtures into OUTDIR (run with Debian's /usr/bin/python3).

Everything is made from fixed seeds on the machine that runs the tests, so nothing large is
committed. Layout of OUTDIR:

  tokenizer/tokenizer.model   SentencePiece BPE trained with LLaMA's settings
  hf/<name>/                  tiny random LLaMA checkpoints in Hugging Face folder layout
  pt/                         single PyTorch checkpoints for `convert x.pt y.safetensors`
  bad/                        hostile and broken inputs, listed in bad/manifest.json
  manifest.json               what was generated (model names, configs, storage dtypes)

Hostile pickles are written opcode by opcode and are never unpickled here or anywhere else.
Safetensors files are written by hand (the `safetensors` package is not part of Debian).
A stamp holding a hash of this script lets a repeated run return at once.
"""

import collections
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch

VOCAB_SIZE = 450  # deliberately not a multiple of 64
SEED = 1234

# Tiny LLaMA shapes: widths are multiples of 32 (the quant block) but not of 64, so code that
# silently assumes bigger alignment shows up. name -> shape, storage dtype, file layout, options.
MODELS = {
    "mha-safetensors": dict(hidden=96, ffn=160, heads=3, kv_heads=3, dtype="f32", fmt="safetensors",
                            shards=1, tied=False, rope_theta=10000.0, rope_scaling=None, eps=1e-5),
    "gqa-safetensors-sharded": dict(hidden=96, ffn=160, heads=6, kv_heads=2, dtype="f16",
                                    fmt="safetensors", shards=3, tied=False, rope_theta=50000.0,
                                    rope_scaling=None, eps=1e-6),
    "tied-bin": dict(hidden=96, ffn=160, heads=3, kv_heads=3, dtype="f32", fmt="bin", shards=1,
                     tied=True, rope_theta=10000.0, rope_scaling={"type": "linear", "factor": 2.0},
                     eps=1e-5),
    "gqa-bin-sharded": dict(hidden=160, ffn=224, heads=5, kv_heads=1, dtype="f16", fmt="bin",
                            shards=2, tied=False, rope_theta=10000.0, rope_scaling=None, eps=1e-5,
                            inv_freq_buffers=True),
    "legacy-bin": dict(hidden=96, ffn=160, heads=6, kv_heads=6, dtype="f32", fmt="legacy-bin",
                       shards=1, tied=False, rope_theta=10000.0, rope_scaling=None, eps=1e-6),
    "bf16-safetensors": dict(hidden=96, ffn=160, heads=3, kv_heads=3, dtype="bf16",
                             fmt="safetensors", shards=1, tied=False, rope_theta=10000.0,
                             rope_scaling=None, eps=1e-5),
}
# Architecture variants (issue 14), kept apart from MODELS (manifest key "variants") because
# they are not plain llamas: oracle.variants holds them to llama.cpp and to the PyTorch
# reference. llama3-tied is a Llama 3.2 shape (llama3 rope scaling over a short original
# context so every branch of the formula is used, tied embeddings, head_dim 32 with 4 heads
# != hidden 96 / 4, two EOS ids and Llama 3's chat markers as added tokens); qwen2-bias is a
# Qwen2 (q/k/v biases, a vocabulary padded past the tokenizer's, no BOS, ChatML markers).
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
VARIANTS = {
    "llama3-tied": dict(hidden=96, ffn=160, heads=4, kv_heads=2, head_dim=32, dtype="f32",
                        fmt="safetensors", shards=1, tied=True, rope_theta=10000.0,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 32},
                        eps=1e-5, vocab=456, eos=[2, 454],
                        added={450: "<|begin_of_text|>", 451: "<|end_of_text|>",
                               452: "<|start_header_id|>", 453: "<|end_header_id|>",
                               454: "<|eot_id|>"},
                        chat_template=LLAMA3_TEMPLATE, add_bos=True),
    "qwen2-bias": dict(hidden=96, ffn=160, heads=3, kv_heads=1, dtype="f32", fmt="safetensors",
                       shards=1, tied=False, rope_theta=1000000.0, rope_scaling=None, eps=1e-6,
                       arch="Qwen2ForCausalLM", qkv_bias=True, vocab=480, eos=452,
                       sliding_window=256,
                       added={450: "<|endoftext|>", 451: "<|im_start|>", 452: "<|im_end|>"},
                       chat_template=QWEN2_TEMPLATE, add_bos=False),
}
N_LAYERS = 2
TORCH_DTYPE = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.float64: "F64"}


# ---------------------------------------------------------------------------------------------
# small writers

def tensor_bytes(t):
    """Little-endian C-order bytes of a tensor (bf16 through its 16-bit pattern)."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def safetensors_bytes(tensors, metadata=None):
    """Serialize {name: tensor} in the safetensors layout: u64 header length, JSON, data."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    return raw_safetensors(json.dumps(header, separators=(",", ":")).encode(), b"".join(blobs))


def raw_safetensors(header_json, data):
    # The reference writer pads the header with spaces so the data starts 8-byte aligned.
    header_json += b" " * ((8 - len(header_json) % 8) % 8)
    return struct.pack("<Q", len(header_json)) + header_json + data


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_json(path, obj):
    write(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def zip_bytes(entries, align=64):
    """A stored (uncompressed) zip whose payloads start at multiples of `align`, padded through
    a local extra field as torch's writer does. entries: list of (name, bytes)."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb = name.encode()
        start = len(out) + 30 + len(nb) + 4
        pad = (align - start % align) % align
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, 0, 0, 0, crc, len(data),
                           len(data), len(nb), len(extra)) + nb + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0800, 0, 0, 0, crc,
                               len(data), len(data), len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                       cd_offset, 0)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# tokenizer

def make_tokenizer(outdir):
    tokdir = os.path.join(outdir, "tokenizer")
    os.makedirs(tokdir, exist_ok=True)
    corpus = os.path.join(tokdir, "corpus.txt")
    licenses = "/usr/share/common-licenses"
    with open(corpus, "wb") as f:
        for name in sorted(os.listdir(licenses)):
            p = os.path.join(licenses, name)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as src:
                    f.write(src.read())
        # digits, a few non-ASCII characters and emoji so that byte fallback and split_digits matter
        f.write("Numbers 0123456789 and 3.14159 and 2024-01-02.\n".encode())
        f.write("Caf\u00e9 na\u00efve \u00fcber \u00e6ther \u2014 r\u00e9sum\u00e9.\n".encode())
    # relative paths, run inside tokdir: the trainer records them in the model's trainer_spec,
    # and absolute ones would make tokenizer.model depend on where the fixtures are built
    prefix = "tokenizer"
    # LLaMA's trainer settings (BPE, byte fallback, split digits, identity normalization, dummy
    # prefix, full character coverage, unk 0 / bos 1 / eos 2, no pad), single-threaded so the
    # result does not depend on the machine.
    cmd = ["spm_train", "--input=corpus.txt", "--model_prefix=" + prefix, "--model_type=bpe",
           "--vocab_size=%d" % VOCAB_SIZE, "--character_coverage=1.0", "--byte_fallback=true",
           "--split_digits=true", "--add_dummy_prefix=true", "--normalization_rule_name=identity",
           "--remove_extra_whitespaces=false", "--allow_whitespace_only_pieces=true",
           "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--num_threads=1",
           "--input_sentence_size=0", "--max_sentence_length=100000", "--minloglevel=2",
           "--split_by_unicode_script=true", "--split_by_number=true", "--max_sentencepiece_length=16"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tokdir)
    if r.returncode != 0:
        sys.exit("make_fixtures: spm_train failed:\n" + r.stderr.decode(errors="replace")[-2000:])
    os.remove(os.path.join(tokdir, prefix + ".vocab"))
    os.remove(corpus)
    os.rename(os.path.join(tokdir, prefix + ".model"), os.path.join(tokdir, "tokenizer.model"))
    return os.path.join(tokdir, "tokenizer.model")


# ---------------------------------------------------------------------------------------------
# HF checkpoints

def random_state_dict(spec, gen):
    h, f, nh, nkv = spec["hidden"], spec["ffn"], spec["heads"], spec["kv_heads"]
    hd = spec.get("head_dim", h // nh)
    vocab = spec.get("vocab", VOCAB_SIZE)

    def randn(*shape, std):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * std

    sd = collections.OrderedDict()
    # Embeddings std 1 and a head std 0.5 give logits with a spread of several units, so the
    # next-token distribution is far from uniform and probability comparisons mean something.
    sd["model.embed_tokens.weight"] = randn(vocab, h, std=1.0)
    for i in range(N_LAYERS):
        p = "model.layers.%d." % i
        sd[p + "self_attn.q_proj.weight"] = randn(nh * hd, h, std=0.15)
        sd[p + "self_attn.k_proj.weight"] = randn(nkv * hd, h, std=0.15)
        sd[p + "self_attn.v_proj.weight"] = randn(nkv * hd, h, std=0.1)
        if spec.get("qkv_bias"):
            # large enough to move the logits visibly: a dropped bias must fail the oracles
            sd[p + "self_attn.q_proj.bias"] = randn(nh * hd, std=0.5)
            sd[p + "self_attn.k_proj.bias"] = randn(nkv * hd, std=0.5)
            sd[p + "self_attn.v_proj.bias"] = randn(nkv * hd, std=0.3)
        sd[p + "self_attn.o_proj.weight"] = randn(h, nh * hd, std=0.1)
        sd[p + "mlp.gate_proj.weight"] = randn(f, h, std=0.1)
        sd[p + "mlp.up_proj.weight"] = randn(f, h, std=0.1)
        sd[p + "mlp.down_proj.weight"] = randn(h, f, std=0.1)
        sd[p + "input_layernorm.weight"] = 1.0 + randn(h, std=0.1)
        sd[p + "post_attention_layernorm.weight"] = 1.0 + randn(h, std=0.1)
        if spec.get("inv_freq_buffers"):
            # older transformers saved this buffer in every layer; converters must drop it
            sd[p + "self_attn.rotary_emb.inv_freq"] = 1.0 / (spec["rope_theta"] ** (
                torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    sd["model.norm.weight"] = 1.0 + randn(h, std=0.1)
    if not spec["tied"]:
        sd["lm_head.weight"] = randn(vocab, h, std=0.5)
    else:
        # with tied embeddings the embedding is the head: keep its logits in the same range
        sd["model.embed_tokens.weight"] *= 0.5
    dt = TORCH_DTYPE[spec["dtype"]]
    return collections.OrderedDict((k, v.to(dt) if v.is_floating_point() and "inv_freq" not in k
                                     else v) for k, v in sd.items())


def hf_config(spec):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": spec["hidden"],
        "intermediate_size": spec["ffn"],
        "num_attention_heads": spec["heads"],
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": spec["kv_heads"],
        "max_position_embeddings": 256,
        "rms_norm_eps": spec["eps"],
        "rope_theta": spec["rope_theta"],
        "rope_scaling": spec["rope_scaling"],
        "vocab_size": VOCAB_SIZE,
        "tie_word_embeddings": spec["tied"],
        "initializer_range": 0.02,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[spec["dtype"]],
        "transformers_version": "4.40.0",
        "use_cache": True,
    }
    if "arch" in spec:
        cfg["architectures"] = [spec["arch"]]
        cfg["model_type"] = "qwen2"
    if "head_dim" in spec:
        cfg["head_dim"] = spec["head_dim"]
    if "vocab" in spec:
        cfg["vocab_size"] = spec["vocab"]
    if "eos" in spec:
        cfg["eos_token_id"] = spec["eos"]
    if "sliding_window" in spec:
        cfg["sliding_window"] = spec["sliding_window"]
        cfg["use_sliding_window"] = False
    return cfg


def split_shards(sd, n):
    names = list(sd)
    per = -(-len(names) // n)
    return [collections.OrderedDict((k, sd[k]) for k in names[i * per:(i + 1) * per])
            for i in range(n)]


def write_variant_model(outdir, name, spec, tokenizer_model, gen):
    """A VARIANTS entry: write_hf_model, then the tokenizer files of a Llama 3 / Qwen2 folder
    (added special tokens past the SentencePiece pieces, the model's Jinja chat template, the
    EOS list in generation_config.json, BOS added or not)."""
    m = write_hf_model(outdir, name, spec, tokenizer_model, gen, subdir="variants")
    d = os.path.join(outdir, m["path"])
    eos = spec["eos"] if isinstance(spec["eos"], int) else spec["eos"][0]
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for i, t in spec["added"].items()}
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "add_bos_token": spec["add_bos"], "add_eos_token": False, "added_tokens_decoder": added,
        "bos_token": "<s>", "eos_token": spec["added"].get(eos, "</s>"), "unk_token": "<unk>",
        "pad_token": None, "chat_template": spec["chat_template"],
        "clean_up_tokenization_spaces": False, "legacy": True, "model_max_length": 256,
        "tokenizer_class": "LlamaTokenizer"})
    write_json(os.path.join(d, "generation_config.json"),
               {"bos_token_id": 1, "eos_token_id": spec["eos"]})
    m["added_tokens"] = {str(i): t for i, t in spec["added"].items()}
    m["add_bos"] = spec["add_bos"]
    return m


def write_hf_model(outdir, name, spec, tokenizer_model, gen, subdir="hf"):
    d = os.path.join(outdir, subdir, name)
    os.makedirs(d, exist_ok=True)
    sd = random_state_dict(spec, gen)
    write_json(os.path.join(d, "config.json"), hf_config(spec))
    shutil.copyfile(tokenizer_model, os.path.join(d, "tokenizer.model"))
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": None, "clean_up_tokenization_spaces": False,
        "legacy": True, "model_max_length": 256, "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer"})
    write_json(os.path.join(d, "special_tokens_map.json"), {
        "bos_token": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False},
        "eos_token": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False},
        "unk_token": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False}})
    write_json(os.path.join(d, "generation_config.json"),
               {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2})

    fmt, n = spec["fmt"], spec["shards"]
    if fmt == "safetensors":
        if n == 1:
            write(os.path.join(d, "model.safetensors"), safetensors_bytes(sd, {"format": "pt"}))
        else:
            weight_map, total = {}, 0
            for i, shard in enumerate(split_shards(sd, n)):
                fname = "model-%05d-of-%05d.safetensors" % (i + 1, n)
                write(os.path.join(d, fname), safetensors_bytes(shard, {"format": "pt"}))
                for k, v in shard.items():
                    weight_map[k] = fname
                    total += v.numel() * v.element_size()
            write_json(os.path.join(d, "model.safetensors.index.json"),
                       {"metadata": {"total_size": total}, "weight_map": weight_map})
    elif fmt == "bin":
        if n == 1:
            torch.save(sd, os.path.join(d, "pytorch_model.bin"))
        else:
            weight_map, total = {}, 0
            for i, shard in enumerate(split_shards(sd, n)):
                fname = "pytorch_model-%05d-of-%05d.bin" % (i + 1, n)
                torch.save(shard, os.path.join(d, fname))
                for k, v in shard.items():
                    weight_map[k] = fname
                    total += v.numel() * v.element_size()
            write_json(os.path.join(d, "pytorch_model.bin.index.json"),
                       {"metadata": {"total_size": total}, "weight_map": weight_map})
    elif fmt == "legacy-bin":
        torch.save(sd, os.path.join(d, "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    else:
        raise ValueError(fmt)
    return {"name": name, "path": os.path.join(subdir, name), "format": fmt, "shards": n,
            "dtype": spec["dtype"], "tied": spec["tied"], "config": hf_config(spec),
            "tensors": {k: list(v.shape) for k, v in sd.items()}}


# ---------------------------------------------------------------------------------------------
# single PyTorch checkpoints

def write_single_checkpoints(outdir, gen):
    d = os.path.join(outdir, "pt")
    os.makedirs(d, exist_ok=True)
    plain = collections.OrderedDict()
    plain["encoder.weight"] = torch.randn(48, 40, generator=gen)
    plain["encoder.bias"] = torch.randn(48, generator=gen)
    plain["decoder.weight"] = torch.randn(40, 48, generator=gen).half()
    plain["scale"] = torch.randn(7, 3, 5, generator=gen).to(torch.bfloat16)
    plain["scalar"] = torch.tensor(3.5)
    torch.save(plain, os.path.join(d, "state_dict.pt"))

    base = torch.randn(12, 20, generator=gen)
    legacy = collections.OrderedDict()
    legacy["base"] = base
    legacy["transposed"] = base.t()             # non-contiguous view of the same storage
    legacy["row3"] = base[3]                    # shared storage with a non-zero offset
    legacy["strided"] = base[2:10:3, 1:17:5]    # offset plus non-unit strides on both axes
    legacy["own"] = torch.randn(5, 6, generator=gen).half()
    torch.save(legacy, os.path.join(d, "legacy_views.pt"), _use_new_zipfile_serialization=False)

    # a zip checkpoint with views too (storage shared between two entries)
    w = torch.randn(16, 8, generator=gen)
    views = collections.OrderedDict([("w", w), ("w_t", w.t()), ("w_tail", w[10:])])
    torch.save(views, os.path.join(d, "zip_views.pt"))
    return ["pt/state_dict.pt", "pt/legacy_views.pt", "pt/zip_views.pt"]


# ---------------------------------------------------------------------------------------------
# hostile and broken inputs

def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def torch_zip_with_pickle(pkl, extra_entries=(), prefix="archive"):
    """A zip laid out like torch.save's, with `pkl` as data.pkl and one harmless storage."""
    entries = [(prefix + "/data.pkl", pkl), (prefix + "/byteorder", b"little"),
               (prefix + "/data/0", b"\0" * 16)]
    entries += list(extra_entries)
    entries.append((prefix + "/version", b"3\n"))
    return zip_bytes(entries)


def good_pickle_one_tensor():
    """data.pkl of {'w': FloatStorage tensor of 4 elements}, written opcode by opcode."""
    return (b"\x80\x02" + b"ccollections\nOrderedDict\nq\x00)Rq\x01(" + binunicode("w") +
            b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((" + binunicode("storage") +
            b"ctorch\nFloatStorage\nq\x03" + binunicode("0") + binunicode("cpu") +
            b"K\x04tq\x04QK\x00K\x04\x85K\x01\x85\x89h\x00)Rtq\x05Rq\x06u.")


CMD = "touch /tmp/lmforge_pwned"

HOSTILE_PICKLES = [
    ("pickle-os-system.pt", b"\x80\x02cos\nsystem\nq\x00" + binunicode(CMD) + b"\x85R.",
     "data.pkl calls os.system through GLOBAL + REDUCE"),
    ("pickle-posix-system.pt", b"\x80\x02cposix\nsystem\n" + binunicode(CMD) + b"\x85R.",
     "data.pkl calls posix.system through GLOBAL + REDUCE"),
    ("pickle-eval.pt", b"\x80\x02cbuiltins\neval\n" + binunicode("__import__('os').system('%s')" % CMD)
     + b"\x85R.", "data.pkl calls builtins.eval through REDUCE"),
    ("pickle-inst.pt", b"\x80\x02(" + binunicode(CMD) + b"ios\nsystem\n.",
     "data.pkl uses INST to call os.system"),
    ("pickle-obj.pt", b"\x80\x02(cos\nsystem\n" + binunicode(CMD) + b"o.",
     "data.pkl uses OBJ to call os.system"),
    ("pickle-newobj.pt", b"\x80\x02csubprocess\nPopen\n](" + binunicode("sh") + binunicode("-c")
     + binunicode(CMD) + b"e\x85\x81.",
     "data.pkl uses NEWOBJ to construct subprocess.Popen"),
    ("pickle-stack-global.pt", b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" + binunicode("os")
     + binunicode("system") + b"\x93" + binunicode(CMD) + b"\x85R.",
     "data.pkl calls os.system through STACK_GLOBAL (protocol 4)"),
    ("pickle-reduce-in-state-dict.pt",
     b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(" + binunicode("w") +
     b"ctorch._utils\n_rebuild_tensor_v2\n((" + binunicode("storage") +
     b"ctorch\nFloatStorage\n" + binunicode("0") + binunicode("cpu") +
     b"K\x04tQK\x00K\x04\x85K\x01\x85\x89h\x00)RtR" + binunicode("evil") +
     b"cos\nsystem\n" + binunicode(CMD) + b"\x85Ru.",
     "a real tensor entry followed by an os.system REDUCE as another dict value"),
    ("pickle-getattr.pt", b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\n" + binunicode("os")
     + b"\x85R" + binunicode("system") + b"\x86R" + binunicode(CMD) + b"\x85R.",
     "data.pkl reaches os.system through builtins.__import__ and builtins.getattr"),
    ("pickle-deep-lists.pt", b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b".",
     "lists nested 100000 deep (EMPTY_LIST / APPEND)"),
    ("pickle-deep-marks.pt", b"\x80\x02" + b"(" * 100000 + b"t" * 100000 + b".",
     "tuples nested 100000 deep (MARK / TUPLE)"),
    ("pickle-huge-binunicode.pt", b"\x80\x02X\xff\xff\xff\xffabc",
     "BINUNICODE declares 0xFFFFFFFF bytes"),
    ("pickle-huge-binbytes8.pt", b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc",
     "BINBYTES8 declares 2^62 bytes"),
    ("pickle-huge-binunicode8.pt", b"\x80\x04\x8d" + struct.pack("<Q", 0xFFFFFFFFFFFFFFFF) + b"abc",
     "BINUNICODE8 declares 2^64-1 bytes"),
    ("pickle-truncated.pt", good_pickle_one_tensor()[:40], "data.pkl stops mid-stream, no STOP"),
    ("pickle-memo-missing.pt", b"\x80\x02h\x07.", "BINGET of a memo slot never stored"),
    ("pickle-empty-stack-reduce.pt", b"\x80\x02R.", "REDUCE on an empty stack"),
    ("pickle-persid-bad.pt", b"\x80\x02" + binunicode("../../etc/passwd") + b"Q.",
     "BINPERSID with a string instead of a storage tuple"),
    ("pickle-storage-key-missing.pt", good_pickle_one_tensor().replace(binunicode("0"), binunicode("9")),
     "tensor refers to storage record data/9, which does not exist"),
    ("pickle-storage-too-small.pt", good_pickle_one_tensor().replace(b"K\x04tq\x04QK\x00K\x04\x85",
                                                                      b"K\x04tq\x04QK\x00K\x40\x85"),
     "tensor of 64 elements in a 4-element storage"),
    ("pickle-trailing-bytes.pt", good_pickle_one_tensor() + b"cos\nsystem\n",
     "bytes after STOP in data.pkl"),
]


def gguf_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_kv_u32(key, v):
    return gguf_str(key) + struct.pack("<II", 4, v)


def gguf_kv_str(key, v):
    return gguf_str(key) + struct.pack("<I", 8) + gguf_str(v)


def gguf_tensor_info(name, ne, ggml_type, offset):
    return gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne) \
        + struct.pack("<IQ", ggml_type, offset)


def gguf_file(kvs, infos, data, n_tensors=None, n_kv=None, magic=b"GGUF", version=3, align=32):
    head = magic + struct.pack("<IQQ", version, len(infos) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(infos)
    body += b"\0" * ((align - len(body) % align) % align)
    return body + data


def small_gguf(**kw):
    """A well-formed GGUF with two KVs and one F32 tensor of 4x8; kw patches pieces of it."""
    kvs = kw.pop("kvs", [gguf_kv_str("general.architecture", "llama"),
                         gguf_kv_u32("llama.block_count", 1)])
    infos = kw.pop("infos", [gguf_tensor_info("w", [8, 4], 0, 0)])
    data = kw.pop("data", struct.pack("<32f", *range(32)))
    return gguf_file(kvs, infos, data, **kw)


def bad_safetensors_cases(good_st):
    f32 = struct.pack("<4f", 1, 2, 3, 4)

    def st(header, data=f32):
        return raw_safetensors(header if isinstance(header, bytes) else header.encode(), data)

    return [
        ("st-overlap.safetensors",
         st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32[:12]),
         "two tensors overlap ([0,8) and [4,12))"),
        ("st-gap.safetensors",
         st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32[:12]),
         "bytes [4,8) belong to no tensor"),
        ("st-shape-overflow.safetensors",
         st('{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}'),
         "dimension product overflows u64"),
        ("st-shape-mismatch.safetensors",
         st('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}'),
         "shape says 12 bytes, offsets say 16"),
        ("st-unknown-dtype.safetensors",
         st('{"a":{"dtype":"F31","shape":[4],"data_offsets":[0,16]}}'), "unknown dtype F31"),
        ("st-duplicate-name.safetensors",
         st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}'), "tensor name appears twice"),
        ("st-offset-past-end.safetensors",
         st('{"a":{"dtype":"F32","shape":[64],"data_offsets":[0,256]}}'),
         "data_offsets end past the end of the file"),
        ("st-offsets-reversed.safetensors",
         st('{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}'), "begin > end"),
        ("st-negative-dim.safetensors",
         st('{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}'), "negative dimension"),
        ("st-name-control-chars.safetensors",
         st('{"a\\nlmforge: error: forged line\\u001b[2J":{"dtype":"F32","shape":[64],'
            '"data_offsets":[0,256]}}'),
         "tensor name with a newline and an escape sequence, data past the end "
         "(the error message must stay one printable line)"),
        ("st-header-len-huge.safetensors", struct.pack("<Q", 0xFFFFFFFFFFFFFFF0) + b"{}",
         "header length 2^64-16"),
        ("st-header-len-past-end.safetensors", struct.pack("<Q", 4096) + b'{"a":1}',
         "header length larger than the file"),
        ("st-header-not-json.safetensors", st('{"a":{"dtype":"F32",'), "header is not valid JSON"),
        ("st-header-not-object.safetensors", st('[1,2,3]'), "header is a JSON array"),
        ("st-header-bad-utf8.safetensors",
         st(b'{"\xff":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
         "tensor name is not UTF-8"),
        ("st-header-flipped-len.safetensors",
         bytes([good_st[0], good_st[1], good_st[2] ^ 0x80]) + good_st[3:],
         "bit 23 of the header length flipped in a good file"),
        ("st-header-flipped-brace.safetensors", good_st[:8] + b"[" + good_st[9:],
         "first header byte flipped from '{' to '['"),
        ("st-too-short.safetensors", b"\x10\x00\x00", "file shorter than the 8-byte length"),
        ("st-empty.safetensors", b"", "empty file"),
    ]


def bad_gguf_cases():
    big = 0xFFFFFFFFFFFFFFFF
    f32x32 = struct.pack("<32f", *range(32))
    return [
        ("gguf-wrong-magic.gguf", small_gguf(magic=b"GGUX"), "magic GGUX"),
        ("gguf-version-1.gguf", small_gguf(version=1), "GGUF version 1"),
        ("gguf-version-99.gguf", small_gguf(version=99), "GGUF version 99"),
        ("gguf-big-endian.gguf", small_gguf(version=3 << 24), "version field byte-swapped"),
        ("gguf-tensor-count-2p62.gguf", small_gguf(n_tensors=1 << 62), "tensor count 2^62"),
        ("gguf-kv-count-2p62.gguf", small_gguf(n_kv=1 << 62), "kv count 2^62"),
        ("gguf-key-len-huge.gguf",
         small_gguf(kvs=[struct.pack("<Q", big) + b"general.architecture"]),
         "key string length 2^64-1"),
        ("gguf-value-len-huge.gguf",
         small_gguf(kvs=[gguf_str("general.architecture") + struct.pack("<IQ", 8, 1 << 40) + b"llama"]),
         "string value length 2^40"),
        ("gguf-array-count-huge.gguf",
         small_gguf(kvs=[gguf_str("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1 << 61)]),
         "string array count 2^61"),
        ("gguf-array-nested-deep.gguf",
         small_gguf(kvs=[gguf_str("x") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 100000
                         + struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)]),
         "arrays of arrays nested 100000 deep (the spec allows nesting; llama.cpp allows none)"),
        ("gguf-bad-value-type.gguf",
         small_gguf(kvs=[gguf_str("x") + struct.pack("<II", 13, 0)]), "value type 13"),
        ("gguf-duplicate-key.gguf",
         small_gguf(kvs=[gguf_kv_u32("a", 1), gguf_kv_u32("a", 2)]), "the same key twice"),
        ("gguf-ndims-5.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4, 1, 1, 1], 0, 0)]),
         "tensor with n_dims 5"),
        ("gguf-ndims-huge.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4], 0, 0)[:9]
                                                   + struct.pack("<I", 0xFFFFFFFF)]),
         "tensor n_dims 2^32-1 and the file ends"),
        ("gguf-ne-overflow.gguf",
         small_gguf(infos=[gguf_tensor_info("w", [1 << 32, 1 << 32, 1 << 8], 0, 0)]),
         "element count overflows 64 bits"),
        ("gguf-bad-ggml-type.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4], 4, 0)]),
         "ggml type 4 (removed Q4_2)"),
        ("gguf-unknown-ggml-type.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4], 1000, 0)]),
         "ggml type 1000"),
        ("gguf-q4_0-row-not-block.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4], 2, 0)]),
         "Q4_0 tensor with ne0 = 8, not a multiple of 32"),
        ("gguf-tensor-past-end.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 400], 0, 0)]),
         "tensor data runs past the end of the file"),
        ("gguf-offset-unaligned.gguf", small_gguf(infos=[gguf_tensor_info("w", [4, 4], 0, 4)]),
         "tensor offset 4 is not a multiple of the alignment"),
        ("gguf-offset-huge.gguf", small_gguf(infos=[gguf_tensor_info("w", [8, 4], 0, big - 31)]),
         "tensor offset near 2^64 (offset + size wraps)"),
        ("gguf-duplicate-tensor.gguf",
         small_gguf(infos=[gguf_tensor_info("w", [8], 0, 0), gguf_tensor_info("w", [8], 0, 32)]),
         "two tensors named w"),
        ("gguf-overlapping-tensors.gguf",
         small_gguf(infos=[gguf_tensor_info("a", [16], 0, 0), gguf_tensor_info("b", [16], 0, 32)],
                    data=f32x32[:96]), "tensor a [0,64) overlaps tensor b [32,96)"),
        ("gguf-alignment-zero.gguf",
         small_gguf(kvs=[gguf_kv_u32("general.alignment", 0)]), "general.alignment 0"),
        ("gguf-alignment-3.gguf",
         small_gguf(kvs=[gguf_kv_u32("general.alignment", 3)]), "general.alignment 3"),
        ("gguf-name-control-chars.gguf",
         small_gguf(infos=[gguf_tensor_info("w\nlmforge: error: forged line\x1b[2J\x00", [8, 400], 0, 0)]),
         "tensor name with a newline, an escape sequence and NUL, and data past the end "
         "(the error message must stay one printable line)"),
        ("gguf-name-too-long.gguf", small_gguf(infos=[gguf_tensor_info("n" * 300, [8, 4], 0, 0)]),
         "tensor name of 300 bytes"),
        ("gguf-truncated-header.gguf", small_gguf()[:20], "file ends inside the header"),
        ("gguf-truncated-kv.gguf", small_gguf()[:40], "file ends inside a key/value"),
        ("gguf-truncated-data.gguf", small_gguf()[:-10], "file ends inside the tensor data"),
    ]


def make_bad(outdir, models_dir):
    d = os.path.join(outdir, "bad")
    os.makedirs(d, exist_ok=True)
    manifest = []

    # Each entry: "file" (inspected), "why", "convert_out" (extension of the convert destination:
    # ".safetensors" for PyTorch inputs, ".gguf" for HF folders, "" (a folder) for GGUF inputs),
    # optionally "convert_src" (what to convert instead of "file": a bare safetensors file is
    # wrapped in an otherwise good HF folder, because that is how safetensors reaches convert),
    # and "inspect_may_succeed" (the file itself is well-formed; only converting it must fail).
    def add(fname, data, why, out=".safetensors", **extra):
        write(os.path.join(d, fname), data)
        manifest.append(dict({"file": fname, "why": why, "convert_out": out}, **extra))

    hf_good = os.path.join(models_dir, "mha-safetensors")

    def add_st(fname, data, why):
        """A bad safetensors file, bare (for inspect) and as model.safetensors of an HF folder."""
        wrapped = fname + ".hf"
        os.makedirs(os.path.join(d, wrapped))
        for n in os.listdir(hf_good):
            if n != "model.safetensors":
                shutil.copyfile(os.path.join(hf_good, n), os.path.join(d, wrapped, n))
        write(os.path.join(d, wrapped, "model.safetensors"), data)
        add(fname, data, why, ".gguf", convert_src=wrapped)

    for fname, pkl, why in HOSTILE_PICKLES:
        add(fname, torch_zip_with_pickle(pkl), why)

    good_pkl = good_pickle_one_tensor()
    add("zip-traversal-name.pt", torch_zip_with_pickle(good_pkl, [("../../evil", b"x")]),
        "zip entry named ../../evil")
    add("zip-absolute-name.pt", torch_zip_with_pickle(good_pkl, [("/etc/evil", b"x")]),
        "zip entry with an absolute name")
    dup = zip_bytes([("archive/data.pkl", good_pkl), ("archive/data/0", b"\0" * 16),
                     ("archive/data/0", b"\1" * 16), ("archive/version", b"3\n")])
    add("zip-duplicate-entry.pt", dup, "zip with two entries named archive/data/0")
    z = bytearray(torch_zip_with_pickle(good_pkl))
    eocd = z.rfind(b"PK\x05\x06")
    struct.pack_into("<I", z, eocd + 16, len(z) + 1000)
    add("zip-cd-offset-past-end.pt", bytes(z), "central directory offset past the end of the file")
    z = bytearray(torch_zip_with_pickle(good_pkl))
    cd = z.find(b"PK\x01\x02")
    struct.pack_into("<II", z, cd + 20, 1 << 31, 1 << 31)
    add("zip-entry-size-huge.pt", bytes(z), "central directory declares a 2 GiB data.pkl")
    z = bytearray(torch_zip_with_pickle(good_pkl))
    struct.pack_into("<H", z, cd_pos(z, 0) + 10, 8)  # method deflate, but the data is stored
    add("zip-method-lie.pt", bytes(z), "entry claims deflate but holds stored bytes")
    z = bytearray(torch_zip_with_pickle(good_pkl))
    struct.pack_into("<H", z, cd_pos(z, 0) + 8, 0x0801)
    add("zip-encrypted.pt", bytes(z), "entry flagged as encrypted")
    add("zip-torchscript.pt", torch_zip_with_pickle(good_pkl, [("archive/constants.pkl", b"\x80\x02).")]),
        "archive with constants.pkl (TorchScript: code, not data)")
    add("zip-no-data-pkl.pt", zip_bytes([("archive/version", b"3\n")]), "zip without data.pkl")
    add("not-a-model.pt", b"hello, world\n" * 10, "plain text")
    add("sevenzip.pt", b"7z\xbc\xaf\x27\x1c" + b"\0" * 64, "7z archive")
    add("legacy-tar-like.pt", b"\0" * 257 + b"ustar\0" + b"\0" * 300, "tar archive")

    # truncated and bit-flipped copies of good files
    good_st_path = os.path.join(models_dir, "mha-safetensors", "model.safetensors")
    good_bin_path = os.path.join(models_dir, "tied-bin", "pytorch_model.bin")
    good_legacy_path = os.path.join(models_dir, "legacy-bin", "pytorch_model.bin")
    good_st = open(good_st_path, "rb").read()
    good_bin = open(good_bin_path, "rb").read()
    good_legacy = open(good_legacy_path, "rb").read()
    hlen = struct.unpack("<Q", good_st[:8])[0]
    # names say where the cut is, not the byte count: legacy pickles hold storage keys made from
    # memory addresses, so their sizes (and the cut offsets) vary from run to run
    for cut, label in [(5, "inside the length"), (8 + hlen // 2, "inside the header"),
                       (8 + hlen + 100, "inside the first tensor"), (len(good_st) - 1, "1 byte short")]:
        add_st("trunc-st-%s.safetensors" % label.split()[-1], good_st[:cut],
               "safetensors truncated " + label)
    for cut, label in [(100, "inside data.pkl"), (len(good_bin) // 2, "in the middle"),
                       (len(good_bin) - 10, "inside the end-of-central-directory")]:
        add("trunc-bin-%s.bin" % label.split()[-1], good_bin[:cut],
            "zip checkpoint truncated " + label)
    for cut, label in [(40, "inside the magic/protocol pickles"), (len(good_legacy) // 2, "in the middle"),
                       (len(good_legacy) - 3, "3 bytes short")]:
        add("trunc-legacy-%s.bin" % label.split()[-1], good_legacy[:cut],
            "legacy checkpoint truncated " + label)
    flipped = bytearray(good_bin)
    flipped[0] ^= 0x01
    add("flip-bin-magic.bin", bytes(flipped), "first byte of the zip magic flipped")
    flipped = bytearray(good_legacy)
    flipped[2] ^= 0x40
    add("flip-legacy-magic.bin", bytes(flipped), "legacy magic number flipped")

    for fname, data, why in bad_safetensors_cases(good_st):
        add_st(fname, data, why)
    for fname, data, why in bad_gguf_cases():
        add(fname, data, why, "")

    # broken Hugging Face folders (convert to .gguf)
    src = os.path.join(models_dir, "gqa-safetensors-sharded")

    def folder(name, why, mutate, inspect_may_succeed=False):
        dst = os.path.join(d, name)
        shutil.copytree(src, dst)
        mutate(dst)
        entry = {"file": name, "why": why, "convert_out": ".gguf"}
        if inspect_may_succeed:
            entry["inspect_may_succeed"] = True
        manifest.append(entry)

    def truncate_shard(p):
        f = os.path.join(p, "model-00002-of-00003.safetensors")
        data = open(f, "rb").read()
        write(f, data[:len(data) - 64])

    def drop_shard(p):
        os.remove(os.path.join(p, "model-00003-of-00003.safetensors"))

    def edit_config(key, value):
        def m(p):
            cfg = json.load(open(os.path.join(p, "config.json")))
            if value is None:
                del cfg[key]
            else:
                cfg[key] = value
            write_json(os.path.join(p, "config.json"), cfg)
        return m

    folder("hf-truncated-shard", "second shard is 64 bytes short", truncate_shard)
    folder("hf-missing-shard", "index names a shard that is not there", drop_shard)
    folder("hf-no-config", "config.json missing", lambda p: os.remove(os.path.join(p, "config.json")))
    folder("hf-config-not-json", "config.json is not JSON",
           lambda p: write(os.path.join(p, "config.json"), b"{\"hidden_size\": 96,"))
    folder("hf-hidden-mismatch", "config hidden_size disagrees with the tensor shapes",
           edit_config("hidden_size", 192), inspect_may_succeed=True)
    folder("hf-heads-mismatch", "num_key_value_heads disagrees with k_proj's shape",
           edit_config("num_key_value_heads", 3), inspect_may_succeed=True)
    folder("hf-missing-layers-key", "config without num_hidden_layers",
           edit_config("num_hidden_layers", None), inspect_may_succeed=True)
    folder("hf-bad-tokenizer", "tokenizer.model is garbage",
           lambda p: write(os.path.join(p, "tokenizer.model"), b"\x0a\xff\xff\xff\xff\x0f garbage"),
           inspect_may_succeed=True)
    write_json(os.path.join(d, "manifest.json"), manifest)
    return manifest


def cd_pos(z, index):
    """Offset of the index-th central directory record in zip bytes z."""
    pos = z.find(b"PK\x01\x02")
    for _ in range(index):
        nlen, xlen, clen = struct.unpack_from("<HHH", z, pos + 28)
        pos += 46 + nlen + xlen + clen
    return pos


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUTDIR")
    outdir = os.path.abspath(sys.argv[1])
    with open(os.path.abspath(__file__), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest() + " torch " + torch.__version__
    stamp_path = os.path.join(outdir, ".stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print("make_fixtures: %s is up to date" % outdir)
        return
    # build next to OUTDIR and swap in at the end so a half-made set is never used
    tmp = outdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    tokenizer_model = make_tokenizer(tmp)
    models = []
    for i, (name, spec) in enumerate(MODELS.items()):
        gen = torch.Generator().manual_seed(SEED + i)
        models.append(write_hf_model(tmp, name, spec, tokenizer_model, gen))
    variants = [write_variant_model(tmp, name, spec, tokenizer_model,
                                    torch.Generator().manual_seed(SEED + 200 + i))
                for i, (name, spec) in enumerate(VARIANTS.items())]
    singles = write_single_checkpoints(tmp, torch.Generator().manual_seed(SEED + 100))
    bad = make_bad(tmp, os.path.join(tmp, "hf"))
    write_json(os.path.join(tmp, "manifest.json"),
               {"tokenizer": "tokenizer/tokenizer.model", "vocab_size": VOCAB_SIZE,
                "models": models, "variants": variants, "single_checkpoints": singles,
                "bad": "bad/manifest.json"})
    with open(os.path.join(tmp, ".stamp"), "w") as f:
        f.write(stamp)
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)
    print("make_fixtures: wrote %d models, %d single checkpoints, %d bad inputs to %s"
          % (len(models), len(singles), len(bad), outdir))


if __name__ == "__main__":
    main()
