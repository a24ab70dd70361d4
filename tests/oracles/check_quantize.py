#!/usr/bin/python3
"""lmforge's quantized GGUFs against llama.cpp's llama-quantize: the same tensors, types and bytes.

llama-quantize is built from the llama.cpp source that node-llama-cpp 3.21.1 ships, by
scripts/build_llama_tools.sh (scripts/test.sh runs it and passes the bin folder to CMake as
LMFORGE_LLAMA_TOOLS); without it this check fails and says how to build it.

Input: each model below converted by lmforge to an F16 GGUF (A). Row sizes 96, 160, 224 (the
fixtures) and 256, 704 (models/demo): all multiples of 32, some of 256, so both the K types
and their block-size fallbacks are exercised.

Per (TYPE, pure) case of CASES (every llama-quantize TYPE of issue 10, with and without --pure),
two files are made from the same weights:
  - theirs: `llama-quantize [--pure] A THEIRS TYPE`;
  - ours:   `lmforge quantize A OURS TYPE [--pure]` when this lmforge has the subcommand;
            otherwise (pure cases only) `lmforge convert B OURS --outtype TYPE`, where B is A
            converted back to a Hugging Face folder (lossless: every value of A is an F16, and
            lmforge convert reads no GGUF-to-GGUF), so both quantizers see the same numbers.
Both files are read with @huggingface/gguf (gguf_parse.mjs); every tensor must have the same
name, shape and type, and identical data bytes.

Where convert's rule is not --pure's, llama-quantize is told lmforge's rule instead of the
difference being skipped: for 4-bit types lmforge convert stores the output head (output.weight,
or token_embd.weight when the embeddings are tied and it is the head) as Q8_0, --pure would give
it TYPE; llama-quantize gets --output-tensor-type / --token-embedding-type Q8_0 for those cases,
and every tensor is still compared byte for byte. 1-D tensors (norms) stay F32 under both rules.

While `lmforge quantize` refuses a case with a "... not implemented yet" error (a type it has
no encoder for) the case is printed as skipped, except the pure F32 F16 BF16 Q8_0 Q4_0 cases,
which lmforge could already write and so must always be compared.

Self-test: one byte of lmforge's first quantized file flipped must be reported as a difference.
"""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (base_args, check, fixture_manifest,  # noqa: E402
                    main_wrapper, run, run_node, workdir_for)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "models", "demo")
FIXTURE_MODELS = ["mha-safetensors", "tied-bin", "gqa-bin-sharded"]

# (TYPE as llama-quantize names it, --pure). Cases without --pure need `lmforge quantize`
# (lmforge convert has no per-tensor mixture rules) and are reported as skipped without it.
# While lmforge quantize lacks an encoder a case needs (e.g. Q4_0 without --pure puts the head in
# Q6_K), it refuses with a "... not implemented yet" error: such a case is printed as skipped,
# except the REQUIRED ones below, which must always be compared.
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
         "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"]
CASES = [(t, True) for t in TYPES] + [(t, False) for t in TYPES]
# Types lmforge convert --outtype wrote when this check was written: if its help stops listing
# one, that is a regression, not a reason to skip.
CONVERT_WRITES_AT_LEAST = {"F32", "F16", "BF16", "Q8_0", "Q4_0"}
# Cases lmforge quantize may not refuse as "not implemented yet": what lmforge wrote before it.
REQUIRED = {(t, True) for t in CONVERT_WRITES_AT_LEAST}
# lmforge convert's output-head type where it differs from --pure's (see the docstring).
CONVERT_HEAD_TYPE = {"Q4_0": "Q8_0", "Q4_1": "Q8_0"}

# ggml type -> (values per block, bytes per block), from ggml's block definitions.
BLOCK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20),
         "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34), "Q2_K": (256, 84),
         "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210)}


def find_llama_quantize(folder):
    how = ("build it with `scripts/build_llama_tools.sh` (after scripts/install_oracles.sh) and "
           "configure with -DLMFORGE_LLAMA_TOOLS=<the folder it prints>; scripts/test.sh does both")
    check(folder, "llama.cpp's tools are not configured (LMFORGE_LLAMA_TOOLS is empty): " + how)
    exe = os.path.join(folder, "llama-quantize")
    check(os.access(exe, os.X_OK), "%s is missing or not executable: %s" % (exe, how))
    return exe


def lmforge_has_quantize(lmforge):
    """True when `lmforge quantize --help` exits 0 and prints the quantize subcommand's own usage
    (an unknown subcommand may print the top-level help, also with status 0)."""
    r = run([lmforge, "quantize", "--help"], check_rc=False)
    return r.returncode == 0 and re.search(rb"^Usage: \S+ quantize\b", r.stdout, re.M) is not None


def convert_outtypes(lmforge):
    """The types `lmforge convert --outtype` lists in its help, upper case."""
    text = run([lmforge, "convert", "--help"]).stdout.decode()
    m = re.search(r"--outtype\s+TEXT\s+Output tensor type: ([^(\n]*)", text)
    check(m, "cannot find the --outtype list in `lmforge convert --help`:\n" + text)
    types = {t.strip().upper() for t in m.group(1).split(",") if t.strip()}
    check(CONVERT_WRITES_AT_LEAST <= types, "lmforge convert --outtype no longer lists %s (it lists %s)"
          % (sorted(CONVERT_WRITES_AT_LEAST - types), sorted(types)))
    return types


def read_tensors(path):
    """{name: (type, ne, bytes)} of a GGUF, located by @huggingface/gguf."""
    info = run_node("gguf_parse.mjs", [path], timeout=120)
    base = int(info["tensor_data_offset"])
    out = {}
    with open(path, "rb") as f:
        for t in info["tensors"]:
            dtype, ne = t["dtype"], [int(x) for x in t["ne"]]
            check(dtype in BLOCK, "%s: tensor %s has type %s, which this check cannot size"
                  % (path, t["name"], dtype))
            per_block, block_bytes = BLOCK[dtype]
            check(ne[0] % per_block == 0, "%s: %s rows of %d are not whole %s blocks"
                  % (path, t["name"], ne[0], dtype))
            n = ne[0] // per_block * block_bytes
            for d in ne[1:]:
                n *= d
            f.seek(base + int(t["offset"]))
            data = f.read(n)
            check(len(data) == n, "%s: %s data runs past the end of the file" % (path, t["name"]))
            out[t["name"]] = (dtype, ne, data)
    return out


def differences(ours, theirs):
    """One sentence per tensor that differs in presence, shape, type or bytes."""
    out = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in ours or name not in theirs:
            where = "llama-quantize's file" if name in theirs else "lmforge's file"
            out.append("%s only in %s" % (name, where))
            continue
        (ot, one, od), (tt, tne, td) = ours[name], theirs[name]
        if ot != tt or one != tne:
            out.append("%s: lmforge %s %s, llama-quantize %s %s" % (name, ot, one, tt, tne))
        elif od != td:
            first = next(i for i in range(len(od)) if od[i] != td[i])
            per_block, block_bytes = BLOCK[ot]
            blocks = sum(od[i:i + block_bytes] != td[i:i + block_bytes]
                         for i in range(0, len(od), block_bytes))
            out.append("%s (%s): %d of %d blocks differ, first at byte %d (block %d)"
                       % (name, ot, blocks, len(od) // block_bytes, first, first // block_bytes))
    return out


def f16_inputs(args, work):
    """[(label, F16 GGUF A, HF folder B of A's values, tied)] for every model used."""
    models = [(m, os.path.join(args.fixtures, "hf", m)) for m in FIXTURE_MODELS]
    names = {m["name"] for m in fixture_manifest(args.fixtures)["models"]}
    check(set(FIXTURE_MODELS) <= names, "fixtures lack %s" % sorted(set(FIXTURE_MODELS) - names))
    if os.path.isdir(DEMO):
        models.append(("demo", DEMO))
    out = []
    for label, folder in models:
        a = os.path.join(work, label + ".f16.gguf")
        b = os.path.join(work, label + ".f16-hf")
        run([args.lmforge, "convert", folder, a, "--outtype", "f16", "--quiet", "--force"], timeout=300)
        if os.path.isdir(b):
            shutil.rmtree(b)
        run([args.lmforge, "convert", a, b, "--quiet"], timeout=300)
        tied = "output.weight" not in read_tensors(a)
        out.append((label, a, b, tied))
    return out


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--llama-tools", default=os.environ.get("LMFORGE_LLAMA_TOOLS", ""),
                    help="folder holding llama-quantize (printed by scripts/build_llama_tools.sh)")
    args = ap.parse_args()
    quantize = find_llama_quantize(args.llama_tools)
    work = workdir_for(args, "quantize")
    with_quantize = lmforge_has_quantize(args.lmforge)
    writable = None if with_quantize else convert_outtypes(args.lmforge)
    print("lmforge side: %s" % ("`lmforge quantize`" if with_quantize
                                else "`lmforge convert --outtype` (no quantize subcommand)"), flush=True)

    failures, compared, self_tested = [], 0, False
    for label, a, b, tied in f16_inputs(args, work):
        for qtype, pure in CASES:
            tag = "%s/%s%s" % (label, qtype, " --pure" if pure else "")
            if not with_quantize and not pure:
                print("%s: skipped, needs `lmforge quantize` (convert has no mixture rules)" % tag)
                continue
            if not with_quantize and qtype not in writable:
                print("%s: skipped, lmforge convert --outtype cannot write %s yet" % (tag, qtype))
                continue
            stem = os.path.join(work, "%s.%s%s" % (label, qtype.lower(), ".pure" if pure else ""))
            ours, theirs = stem + ".lmforge.gguf", stem + ".llama.gguf"
            for p in (ours, theirs):
                if os.path.exists(p):
                    os.remove(p)
            cmd = [quantize] + (["--pure"] if pure else [])
            if with_quantize:
                r = run([args.lmforge, "quantize", a, ours, qtype] + (["--pure"] if pure else []),
                        timeout=300, check_rc=False)
                missing = re.search(rb"[^\n]*not implemented yet[^\n]*", r.stderr)
                if r.returncode != 0 and missing and (qtype, pure) not in REQUIRED:
                    print("%s: skipped, %s" % (tag, missing.group(0).decode(errors="replace")))
                    continue
                check(r.returncode == 0, "%s: lmforge quantize exited with %d:\n%s"
                      % (tag, r.returncode, r.stderr.decode(errors="replace")[-2000:]))
            else:
                run([args.lmforge, "convert", b, ours, "--outtype", qtype.lower(), "--quiet"],
                    timeout=300)
                if qtype in CONVERT_HEAD_TYPE:
                    head = CONVERT_HEAD_TYPE[qtype]
                    cmd += ["--token-embedding-type", head] if tied else ["--output-tensor-type", head]
            run(cmd + [a, theirs, qtype, "2"], timeout=300)
            mine, ref = read_tensors(ours), read_tensors(theirs)
            diff = differences(mine, ref)
            types = sorted({t for t, _, _ in mine.values()})
            if diff:
                failures.append("%s: %s" % (tag, "; ".join(diff[:6])))
                print("%s: DIFFERS in %d of %d tensors" % (tag, len(diff), len(ref)), flush=True)
            else:
                compared += 1
                print("%s: %d tensors identical (%s)" % (tag, len(ref), " ".join(types)), flush=True)
            if not self_tested and not diff and any(t not in ("F32", "F16", "BF16") for t in types):
                self_test(mine, ref)
                self_tested = True
    check(not failures, "lmforge and llama-quantize disagree:\n  " + "\n  ".join(failures))
    check(compared > 0, "no case was compared")
    check(self_tested, "the self-test never ran (no quantized case was compared)")


def self_test(mine, ref):
    """A flipped byte in one quantized tensor must be found."""
    name = next(n for n, (t, _, _) in sorted(mine.items()) if t not in ("F32", "F16", "BF16"))
    t, ne, data = mine[name]
    broken = dict(mine)
    middle = len(data) // 2
    broken[name] = (t, ne, data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1:])
    found = differences(broken, ref)
    check(len(found) == 1 and found[0].startswith(name),
          "self-test: a flipped byte in %s was not reported (got %s)" % (name, found))
    print("self-test: a flipped byte in %s is reported: %s" % (name, found[0]), flush=True)


if __name__ == "__main__":
    main_wrapper("check_quantize", main)
