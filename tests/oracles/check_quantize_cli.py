#!/usr/bin/python3
"""`lmforge quantize` behaves as a command: help, bad TYPE, refusals, --json shape.

On the mha-safetensors HF fixture:
  - `quantize --help` exits 0 (the byte-identity check detects the command this way);
  - an unknown TYPE exits 2 with one error line listing the valid types, writing nothing;
  - TYPE is case-insensitive (q8_0 and Q8_0 write the same tensors);
  - --json prints {"type", "size_in", "size_out", "seconds", "tensors": [{"name", "type",
    "shape", "bytes"}]} with size_out the sum of the tensors' bytes, and the file holds them;
  - a type without an encoder yet exits 2 naming it ("not implemented yet"), writing nothing
    (or succeeds, once the codec exists);
  - a quantized input is refused (exit 2) without --allow-requantize, and with it is
    accepted with a warning on stderr;
  - --dry-run writes nothing and lists types lmforge cannot write yet;
  - a weight holding a NaN exits 1 with one error line (-q) naming the tensor, writing nothing;
  - --hist: each Q4_0 tensor's --json entry has "hist", 16 fractions summing to 1 (none for
    the 8-bit ones), and the text output prints a "hist:" line under each such tensor;
  - -t 1 and -t 2 write the same bytes;
  - with LMFORGE_LLAMA_QUANTIZE naming a llama-quantize binary (the bundled llama.cpp's): for
    every TYPE, plain, --pure and --leave-output-tensor, `--dry-run --json` gives each tensor
    the type `llama-quantize --dry-run` gives it, on F32 GGUFs of three fixtures (rows of 96:
    the fallbacks) and of a generated 16-layer model with rows of 256 and 4 query heads per kv
    head (the layer rules).
"""

import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, workdir_for  # noqa: E402


def lmforge(args, *rest):
    return subprocess.run([args.lmforge, "quantize", *rest], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120, text=True)


def refused(r, what, needle, out):
    lines = r.stderr.splitlines()
    check(r.returncode == 2, "%s: exit %d, expected 2; stderr: %s" % (what, r.returncode, r.stderr[-500:]))
    check(len(lines) == 1 and lines[0].startswith("lmforge: error: "), "%s: stderr is not one error line: %r" % (what, r.stderr))
    check(needle in lines[0], "%s: %r not in %r" % (what, needle, lines[0]))
    check(not os.path.exists(out), "%s: %s was written" % (what, out))


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "quantize_cli")
    for f in os.listdir(work):
        path = os.path.join(work, f)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    src = os.path.join(os.path.abspath(args.fixtures), "hf", "mha-safetensors")
    out = lambda name: os.path.join(work, name)  # noqa: E731

    r = subprocess.run([args.lmforge, "quantize", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0 and "Q4_K_M" in r.stdout, "quantize --help: exit %d: %s" % (r.returncode, r.stdout[-300:]))

    refused(lmforge(args, src, out("bad.gguf"), "q4_z"), "unknown TYPE", "Q4_K_M", out("bad.gguf"))

    r = lmforge(args, src, out("a.gguf"), "q8_0", "--json")
    check(r.returncode == 0, "q8_0 --json: exit %d: %s" % (r.returncode, r.stderr[-500:]))
    j = json.loads(r.stdout)
    check(set(j) == {"type", "size_in", "size_out", "seconds", "tensors"}, "--json keys: %s" % sorted(j))
    check(j["type"] == "Q8_0", "--json type %r" % j["type"])
    for t in j["tensors"]:
        check(set(t) == {"name", "type", "shape", "bytes"}, "--json tensor keys: %s" % sorted(t))
    check(j["size_out"] == sum(t["bytes"] for t in j["tensors"]), "size_out is not the sum of the tensors' bytes")
    check(j["size_out"] < os.path.getsize(out("a.gguf")) < j["size_out"] + (1 << 20), "output size vs size_out")
    types = {t["name"]: t["type"] for t in j["tensors"]}
    check(types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.0.attn_norm.weight"] == "F32", "types: %s" % types)

    r = lmforge(args, src, out("b.gguf"), "Q8_0", "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["tensors"] == j["tensors"], "Q8_0 and q8_0 differ")

    r = lmforge(args, src, out("k.gguf"), "Q6_K", "-q")
    if r.returncode != 0:
        refused(r, "Q6_K without its encoder", "not implemented yet", out("k.gguf"))

    refused(lmforge(args, out("a.gguf"), out("r.gguf"), "q4_0"), "requantize", "--allow-requantize", out("r.gguf"))
    r = lmforge(args, out("a.gguf"), out("r.gguf"), "q4_0", "--allow-requantize", "--json")
    check(r.returncode == 0, "--allow-requantize: exit %d: %s" % (r.returncode, r.stderr[-500:]))
    check("warning: requantizing" in r.stderr, "no requantize warning: %r" % r.stderr)

    r = lmforge(args, src, out("d.gguf"), "Q4_K_M", "--dry-run", "--json")
    check(r.returncode == 0 and not os.path.exists(out("d.gguf")), "--dry-run: exit %d or wrote %s" % (r.returncode, out("d.gguf")))
    check(json.loads(r.stdout)["type"] == "Q4_K_M", "--dry-run --json type")

    nan_src = poisoned_copy(src, out("nan-model"), "model.layers.0.mlp.down_proj.weight")
    r = lmforge(args, nan_src, out("nan.gguf"), "q4_0", "-q")  # without -q the tensors before it are listed first
    lines = r.stderr.splitlines()
    check(r.returncode == 1 and len(lines) == 1 and lines[0].startswith("lmforge: error: ")
          and "down_proj" in lines[0] and "NaN" in lines[0],
          "NaN weight: exit %d, stderr %r" % (r.returncode, r.stderr[-500:]))
    check(not os.path.exists(out("nan.gguf")) and not [f for f in os.listdir(work) if f.startswith("nan.gguf")],
          "NaN weight: something was left behind: %s" % os.listdir(work))

    r = lmforge(args, src, out("h.gguf"), "q4_0", "--hist", "--json", "--force")
    check(r.returncode == 0, "--hist --json: exit %d: %s" % (r.returncode, r.stderr[-500:]))
    with_hist = 0
    for t in json.loads(r.stdout)["tensors"]:
        if t["type"] == "Q4_0":
            check(len(t.get("hist", [])) == 16 and abs(sum(t["hist"]) - 1) < 1e-9, "--hist of %s: %r" % (t["name"], t.get("hist")))
            with_hist += 1
        else:
            check("hist" not in t, "--hist given for %s (%s)" % (t["name"], t["type"]))
    check(with_hist > 0, "--hist: no Q4_0 tensor in the output")
    r = lmforge(args, src, out("h.gguf"), "q4_0", "--hist", "--force")
    check(r.returncode == 0 and r.stderr.count("hist:") == with_hist,
          "--hist text: %d hist lines for %d Q4_0 tensors" % (r.stderr.count("hist:"), with_hist))

    for threads in ("1", "2"):
        r = lmforge(args, src, out("t%s.gguf" % threads), "q4_k_m", "-t", threads, "-q")
        check(r.returncode == 0, "-t %s: exit %d: %s" % (threads, r.returncode, r.stderr[-500:]))
    with open(out("t1.gguf"), "rb") as a, open(out("t2.gguf"), "rb") as b:
        check(a.read() == b.read(), "-t 1 and -t 2 wrote different files")

    llama_quantize = os.environ.get("LMFORGE_LLAMA_QUANTIZE")
    if llama_quantize:
        compare_types_with_llama_quantize(args, llama_quantize, work)


def poisoned_copy(src, folder, tensor):
    """A copy of the HF folder `src` whose F32 or F16 `tensor` holds a NaN in its middle element."""
    shutil.copytree(src, folder)
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        entry = header[tensor]
        nan = {"F16": struct.pack("<H", 0x7E00), "F32": struct.pack("<I", 0x7FC00000)}
        check(entry["dtype"] in nan, "%s is %s, not F32 or F16" % (tensor, entry["dtype"]))
        begin, end = entry["data_offsets"]
        size = len(nan[entry["dtype"]])
        f.seek(8 + n + begin + ((end - begin) // (2 * size)) * size)
        f.write(nan[entry["dtype"]])
    return folder


MIXES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
         "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"]
LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[.*\], type =\s*(\S+), size =.*?(?:\((\S+)\))?\s*$")


def layered_model(fixtures, folder):
    """A 16-layer llama with hidden 256, ff 512, 8 query heads and 2 kv heads (F16), on the
    mha fixture's tokenizer: rows of 256 so that the K-quant layer rules show."""
    src = os.path.join(fixtures, "hf", "mha-safetensors")
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(src):
        if f not in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(src, f), folder)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    h, ff, layers, heads, kv = 256, 512, 16, 8, 2
    cfg.update(hidden_size=h, intermediate_size=ff, num_hidden_layers=layers, num_attention_heads=heads,
               num_key_value_heads=kv, tie_word_embeddings=False)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    kvd = kv * (h // heads)
    shapes = {"model.embed_tokens.weight": (cfg["vocab_size"], h), "lm_head.weight": (cfg["vocab_size"], h), "model.norm.weight": (h,)}
    for i in range(layers):
        p = "model.layers.%d." % i
        shapes.update({p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kvd, h),
                       p + "self_attn.v_proj.weight": (kvd, h), p + "self_attn.o_proj.weight": (h, h),
                       p + "mlp.gate_proj.weight": (ff, h), p + "mlp.up_proj.weight": (ff, h), p + "mlp.down_proj.weight": (h, ff),
                       p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,)})
    rng = random.Random(0)
    pool = [rng.gauss(0, 0.02) for _ in range(4096)]
    header, blobs, offset = {}, [], 0
    for j, (name, shape) in enumerate(shapes.items()):
        n = shape[0] * (shape[1] if len(shape) == 2 else 1)
        values = [pool[(j * 7919 + i) % 4096] for i in range(n)] if len(shape) == 2 else [1.0] * n
        blob = struct.pack("<%de" % n, *values)
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


def compare_types_with_llama_quantize(args, llama_quantize, work):
    fixtures = os.path.abspath(args.fixtures)
    layered_model(fixtures, os.path.join(work, "layered"))
    inputs = [os.path.join(fixtures, "hf", f) for f in ("mha-safetensors", "gqa-safetensors-sharded", "tied-bin")]
    inputs.append(os.path.join(work, "layered"))
    for folder in inputs:
        gguf = os.path.join(work, os.path.basename(folder) + "-f32.gguf")
        subprocess.run([args.lmforge, "convert", folder, gguf, "--outtype", "f32", "--force", "-q"], check=True)
        for mix in MIXES:
            for flags in ([], ["--pure"], ["--leave-output-tensor"]):
                what = "%s %s %s" % (os.path.basename(folder), mix, " ".join(flags))
                r = subprocess.run([llama_quantize, "--dry-run", *flags, gguf, mix], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=120)
                check(r.returncode == 0, "llama-quantize %s: exit %d" % (what, r.returncode))
                want = {}
                for line in r.stdout.splitlines():
                    m = LINE.match(line.strip())
                    if m:
                        want[m.group(1)] = (m.group(3) or m.group(2)).upper()
                ours = lmforge(args, gguf, os.path.join(work, "unused.gguf"), mix, "--dry-run", "--json", *flags)
                check(ours.returncode == 0, "lmforge quantize --dry-run %s: %s" % (what, ours.stderr[-300:]))
                got = {t["name"]: t["type"] for t in json.loads(ours.stdout)["tensors"]}
                check(want and got == want, "%s: types differ from llama-quantize's: %s" % (
                    what, sorted((n, want.get(n), got.get(n)) for n in set(want) | set(got) if want.get(n) != got.get(n))[:6]))


if __name__ == "__main__":
    main_wrapper("quantize_cli", main)
