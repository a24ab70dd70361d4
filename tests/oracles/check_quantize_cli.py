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
    accepted with a warning on stderr.
"""

import json
import os
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
        os.remove(os.path.join(work, f))
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


if __name__ == "__main__":
    main_wrapper("quantize_cli", main)
