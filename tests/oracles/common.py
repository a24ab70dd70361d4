"""Helpers shared by the oracle checks: reading fixtures, running lmforge and the node oracles.

Runs under Debian's /usr/bin/python3 (torch 1.13, numpy, sentencepiece). The safetensors reader
here is written from the format description because the `safetensors` package is not in Debian.
"""

import argparse
import collections
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def main_wrapper(name, fn):
    """Run fn(args); print a one-line verdict; exit 1 on CheckFailed."""
    try:
        fn()
    except CheckFailed as e:
        print("%s: FAILED: %s" % (name, e), flush=True)
        sys.exit(1)
    print("%s: all checks passed" % name, flush=True)


def base_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--lmforge", required=True, help="path to the lmforge binary")
    p.add_argument("--fixtures", required=True, help="directory written by tools/make_fixtures.py")
    p.add_argument("--workdir", default=None, help="scratch directory (default: <fixtures>/../oracle-work/<check>)")
    return p


def workdir_for(args, check_name):
    d = args.workdir or os.path.join(os.path.dirname(os.path.abspath(args.fixtures)),
                                     "oracle-work", check_name)
    os.makedirs(d, exist_ok=True)
    return d


def fixture_manifest(fixtures):
    with open(os.path.join(fixtures, "manifest.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# running programs

def run(cmd, timeout=120, check_rc=True):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CheckFailed("timed out after %d s: %s" % (timeout, " ".join(cmd)))
    if check_rc and r.returncode != 0:
        raise CheckFailed("exit status %d from %s\nstderr:\n%s" % (
            r.returncode, " ".join(cmd), r.stderr.decode(errors="replace")[-4000:]))
    return r


def require_node_modules():
    if shutil.which("node") is None:
        print("FAILED: `node` (Node.js >= 20) is not on PATH; the JavaScript oracles need it.",
              flush=True)
        sys.exit(1)
    if not os.path.isdir(os.path.join(NODE_MODULES, "node-llama-cpp")) or \
            not os.path.isdir(os.path.join(NODE_MODULES, "@huggingface", "gguf")):
        print("FAILED: the JavaScript oracles are not installed (%s is missing).\n"
              "Run scripts/install_oracles.sh once (needs Node >= 20 and the npm registry)."
              % NODE_MODULES, flush=True)
        sys.exit(1)


def run_node(script, args, timeout=300):
    require_node_modules()
    r = run(["node", os.path.join(HERE, script)] + list(args), timeout=timeout)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise CheckFailed("%s printed no JSON:\n%s\n%s" % (script, r.stdout[-2000:],
                                                           r.stderr.decode(errors="replace")[-2000:]))


def lmforge_inspect(lmforge, path):
    r = run([lmforge, "inspect", path, "--json"])
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise CheckFailed("lmforge inspect --json %s printed invalid JSON (%s):\n%s"
                          % (path, e, r.stdout[:2000]))


# ---------------------------------------------------------------------------------------------
# reading weights

_ST_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
             "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """{name: torch tensor} from a safetensors file, plus its __metadata__ (or None)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data, 0)[0]
    check(8 + n <= len(data), "%s: header length %d past the end" % (path, n))
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            t = torch.from_numpy(bits.view(np.float32).copy()).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype=_ST_NUMPY[info["dtype"]]).copy())
        out[name] = t.reshape(shape)
    return out, header.get("__metadata__")


def load_hf_state_dict(folder):
    """All tensors of a Hugging Face folder, from safetensors or PyTorch files, single or sharded."""
    files = []
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        p = os.path.join(folder, index)
        if os.path.exists(p):
            with open(p) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
            break
    else:
        for single in ("model.safetensors", "pytorch_model.bin"):
            if os.path.exists(os.path.join(folder, single)):
                files = [single]
                break
    check(files, "%s: no weights found" % folder)
    sd = collections.OrderedDict()
    for name in files:
        p = os.path.join(folder, name)
        if name.endswith(".safetensors"):
            part, _ = read_safetensors(p)
        else:
            # our own fixtures only: weights_only restricts torch's unpickler to tensor types
            part = torch.load(p, map_location="cpu", weights_only=True)
        sd.update(part)
    return sd


def load_hf_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def sentencepiece_ids(tokenizer_model, prompts, add_bos=True):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer_model)
    return [([sp.bos_id()] if add_bos else []) + sp.encode(p) for p in prompts]


# Prompts exercise spaces, digits (split_digits), punctuation, byte fallback and newlines.
PROMPTS = [
    "The license grants you the right",
    "Copyright (C) 2007 Free Software Foundation, Inc.",
    " leading space and  two spaces",
    "caf\u00e9 \u00fcber na\u00efve 3.14159",
    "emoji \U0001F999 and \u4e2d\u6587 fall back to bytes",
    "line one\nline two\n\ttabbed",
]
