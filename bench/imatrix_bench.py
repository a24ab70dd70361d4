#!/usr/bin/python3
"""What an importance matrix buys at low bits: Q2_K and Q3_K_S perplexity of models/demo with
and without `--imatrix`, in one run.

    imatrix_bench.py --lmforge build/lmforge --workdir /work/bench-work/imatrix [--threads 2]
                     [--calib-bytes 400000] [--eval-bytes 200000] [--ctx 256] [--json]

Text: the Brown corpus as tools/brown_text.py cuts it. The matrix is computed on the start of
the TRAIN split (--calib-bytes), perplexity is measured on the start of the HELD-OUT split
(--eval-bytes), so no evaluated token was in the calibration text. Steps, all with lmforge:
  1. convert models/demo to an F16 GGUF;
  2. `lmforge imatrix -m F16 -f CALIB -c CTX` (the matrix);
  3. `lmforge quantize F16 OUT TYPE` and `... --imatrix MATRIX` for TYPE in Q2_K, Q3_K_S
     (byte-identical to llama-quantize's, see oracle.imatrix);
  4. `lmforge perplexity -m FILE -f EVAL -c CTX --json` for F16 and the four files. The
     engine does not run K-quants yet (issue 10, Deliver 2), so each quantized file is first
     expanded to F32 with `lmforge quantize FILE DEQ F32 --allow-requantize`: the same weight
     values, exactly (every K-quant value is an f32 product), only the activations stay f32
     where llama.cpp would round them to 8 bits.
Prints a table (file size, perplexity +/- error, change from F16) and, with --json, one object.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "models", "demo")
BROWN = os.path.join(ROOT, "tools", "brown_text.py")
TYPES = ["Q2_K", "Q3_K_S"]


def run(cmd, timeout=3600):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr.decode(errors="replace")[-3000:]))
    return r


def text_prefix(split, n_bytes, work):
    full = os.path.join(work, "brown.%s.txt" % split)
    if not os.path.exists(full):
        run(["/usr/bin/python3", BROWN, "--split", split, "--out", full])
    data = open(full, "rb").read()[:n_bytes]
    data = data[:len(data.decode("utf-8", errors="ignore").encode("utf-8"))]
    out = os.path.join(work, "%s.%d.txt" % (split, n_bytes))
    open(out, "wb").write(data)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calib-bytes", type=int, default=400000)
    ap.add_argument("--eval-bytes", type=int, default=200000)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    lm, t = a.lmforge, str(a.threads)

    calib = text_prefix("train", a.calib_bytes, a.workdir)
    evalt = text_prefix("heldout", a.eval_bytes, a.workdir)
    f16 = os.path.join(a.workdir, "demo.f16.gguf")
    run([lm, "convert", DEMO, f16, "--outtype", "f16", "--quiet", "--force"])
    matrix = os.path.join(a.workdir, "demo.imatrix.gguf")
    t0 = time.time()
    im = json.loads(run([lm, "imatrix", "-m", f16, "-f", calib, "-o", matrix, "-c", str(a.ctx), "-t", t, "--json",
                         "--force"]).stdout)
    im_seconds = time.time() - t0

    files = [("F16", "", f16, f16)]  # (type, imatrix, the quantized file, the file measured)
    for q in TYPES:
        plain = os.path.join(a.workdir, "demo.%s.gguf" % q.lower())
        weighted = os.path.join(a.workdir, "demo.%s.imatrix.gguf" % q.lower())
        run([lm, "quantize", f16, plain, q, "--force", "-q"])
        run([lm, "quantize", f16, weighted, q, "--imatrix", matrix, "--force", "-q"])
        for label, path in (("no", plain), ("yes", weighted)):
            expanded = path[:-len(".gguf")] + ".f32.gguf"
            run([lm, "quantize", path, expanded, "F32", "--allow-requantize", "--force", "-q"])
            files.append((q, label, path, expanded))

    rows = []
    for q, with_matrix, path, measured in files:
        p = json.loads(run([lm, "perplexity", "-m", measured, "-f", evalt, "-c", str(a.ctx), "-t", t, "--json"]).stdout)
        rows.append({"type": q, "imatrix": with_matrix, "bytes": os.path.getsize(path), "ppl": p["ppl"],
                     "ppl_error": p["ppl_error"], "tokens_scored": p["tokens_scored"]})
    base = rows[0]["ppl"]
    result = {"model": "models/demo", "calibration": {"text": "Brown train split, first %d bytes" % a.calib_bytes,
                                                      "tokens": im["tokens"], "chunks": im["chunks"], "ctx": a.ctx,
                                                      "seconds": round(im_seconds, 2)},
              "evaluation": "Brown held-out split, first %d bytes, -c %d" % (a.eval_bytes, a.ctx),
              "threads": a.threads, "rows": rows}
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print("imatrix: %d tokens, %d chunks of %d, %.1f s" % (im["tokens"], im["chunks"], a.ctx, im_seconds))
    print("%-7s %-8s %10s %18s %9s" % ("type", "imatrix", "size", "perplexity", "vs F16"))
    for r in rows:
        print("%-7s %-8s %10s %10.3f +/- %5.3f %+8.2f%%" % (r["type"], r["imatrix"] or "-", "%.2f MiB" % (r["bytes"] / 1048576),
                                                          r["ppl"], r["ppl_error"], 100 * (r["ppl"] / base - 1)))


if __name__ == "__main__":
    main()
