#!/usr/bin/python3
"""`lmforge convert --outtype` takes every TYPE name `lmforge quantize` takes (issue 10, Deliver 2).

The block types (f32 ... q6_k) were --outtype values already (every matrix that type; see
check_llama_probs*.py and check_quantize.py for their files). This check covers the quantize mixes
that are no single type (Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M), in any case:
  - `lmforge convert HF OUT.gguf --outtype MIX` must write the very bytes of
    `lmforge quantize HF OUT.gguf MIX` (which oracle.quantize holds byte-identical to llama.cpp's
    llama-quantize), on fixtures with and without tied embeddings;
  - a mix with a non-GGUF destination and an unknown name are usage errors (exit 2) naming the
    valid values, and leave no output behind; `convert --help` lists every mix.
Self-test: two different mixes must not give the same file (the comparison can see a difference).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, fixture_manifest, main_wrapper, run, workdir_for  # noqa: E402

MIXES = ["Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M"]
MODELS = ["mha-safetensors", "tied-bin"]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def main():
    ap = base_args(__doc__.splitlines()[0])
    args = ap.parse_args()
    work = workdir_for(args, "convert_mix")
    manifest = fixture_manifest(args.fixtures)
    lm = args.lmforge
    help_text = run([lm, "convert", "--help"]).stdout.decode()
    for mix in MIXES:
        check(mix.lower() in help_text, "convert --help does not list %s" % mix.lower())

    compared = 0
    for name in MODELS:
        model = [m for m in manifest["models"] if m["name"] == name]
        check(len(model) == 1, "fixture model %s is missing from the manifest" % name)
        src = os.path.join(args.fixtures, model[0]["path"])
        for i, mix in enumerate(MIXES):
            spelled = mix.lower() if i % 2 == 0 else mix  # either case
            ours = os.path.join(work, "%s.convert.%s.gguf" % (name, mix))
            ref = os.path.join(work, "%s.quantize.%s.gguf" % (name, mix))
            for f in (ours, ref):
                if os.path.exists(f):
                    os.remove(f)
            run([lm, "convert", src, ours, "--outtype", spelled, "--quiet"])
            run([lm, "quantize", src, ref, mix, "-q"])
            check(same_bytes(ours, ref), "%s: convert --outtype %s and quantize %s wrote different files"
                  % (name, spelled, mix))
            compared += 1
    print("convert --outtype MIX == quantize MIX, byte for byte: %d files" % compared)

    # Self-test: the comparison sees a different mix.
    a = os.path.join(work, "%s.convert.%s.gguf" % (MODELS[0], "Q4_K_S"))
    b = os.path.join(work, "%s.convert.%s.gguf" % (MODELS[0], "Q4_K_M"))
    check(not same_bytes(a, b), "self-test: Q4_K_S and Q4_K_M files are identical; the comparison proves nothing")
    print("self-test: Q4_K_S and Q4_K_M files differ, as they must")

    src = os.path.join(args.fixtures, [m for m in manifest["models"] if m["name"] == MODELS[0]][0]["path"])
    for dst, outtype, says in [(os.path.join(work, "mix.safetensors"), "q4_k_m", "GGUF output only"),
                               (os.path.join(work, "bad.gguf"), "q4_k_x", "q5_k_m")]:
        if os.path.exists(dst):
            os.remove(dst)
        r = subprocess.run([lm, "convert", src, dst, "--outtype", outtype], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        err = r.stderr.decode()
        check(r.returncode == 2 and says in err and err.startswith("lmforge: error:"),
              "convert --outtype %s to %s: exit %d, stderr %r" % (outtype, os.path.basename(dst), r.returncode, err))
        check(not os.path.exists(dst), "convert --outtype %s left %s behind" % (outtype, dst))
    print("a mix for non-GGUF output and an unknown name are refused (exit 2)")


if __name__ == "__main__":
    main_wrapper("check_convert_mix", main)
