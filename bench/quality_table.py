#!/usr/bin/python3
"""Quality of every quantization on the demo model: held-out perplexity, KL divergence from
F16 and file size.

    quality_table.py --lmforge build/lmforge --workdir /work/bench-work/quality
                     [--model models/demo] [--heldout FILE] [--calib FILE] [--ctx 256]
                     [--chunks-bytes 100000] [--threads 2] [--nsamples 128] [--damp 0.01]
                     [--group-size 64] [--gptq-only] [--json]

Rows (issue 10): F16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, Q3_K_M, Q2_K written by
`lmforge quantize`, then GPTQ at 4 and 3 bits (with and without --act-order) and
round-to-nearest with the same groups (`lmforge gptq --rtn`), written as AutoGPTQ folders and
run directly. The group size is --group-size (default 64: the demo model's feed-forward width,
704, is not a multiple of 128, and `gptq` refuses groups that do not divide the rows). Perplexity is `lmforge perplexity -c CTX` (llama.cpp's method) on the first
--chunks-bytes bytes of the held-out text (default: Brown files the demo model never saw,
from tools/brown_text.py --split heldout); GPTQ calibrates on the training split
(tools/brown_text.py --split train), so calibration and evaluation text never overlap.
Size: the GGUF file, or the sum of the folder's files.

KL divergence: the F16 row's `lmforge perplexity --kl-divergence-base F16.kld` writes the F16
model's log-probabilities at every scored position (llama-perplexity's base file); every row,
F16 included (a check: its KLD is the file's own rounding, about 1e-7), is then measured with
`--kl-divergence-base F16.kld --kl-divergence`: mean KLD from F16 over the same positions and
the share of positions whose most likely token is F16's ("same top"). The perplexity column
comes from the same run (PPL(Q) over the same positions, which is `lmforge perplexity`'s value).
KLD is what separates files whose perplexities sit within noise of each other: it compares
whole distributions position by position rather than one averaged log-likelihood.

The point to read: GPTQ must beat RTN at the same bits, as in the paper; K-quant mixes should
sit between the plain types. --gptq-only reruns just the GPTQ/RTN rows (against an existing
F16.kld) for experiments with --nsamples / --damp.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TYPES = ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"]
GPTQ = [("RTN 4-bit", ["--bits", "4", "--rtn"]),
        ("GPTQ 4-bit", ["--bits", "4"]),
        ("GPTQ 4-bit act-order", ["--bits", "4", "--act-order"]),
        ("RTN 3-bit", ["--bits", "3", "--rtn"]),
        ("GPTQ 3-bit", ["--bits", "3"]),
        ("GPTQ 3-bit act-order", ["--bits", "3", "--act-order"])]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def size_of(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


def run_json(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "exit %d" % r.returncode
    return json.loads(r.stdout), ""


def write_base(a, model, text, base):
    """Runs the F16 model over the text, writing its log-probabilities to `base`."""
    j, err = run_json([a.lmforge, "perplexity", "-m", model, "-f", text, "-c", str(a.ctx), "-t", str(a.threads),
                       "--kl-divergence-base", base, "--force", "--json"])
    if j is None:
        sys.exit("writing the KL-divergence base file failed: " + err)


def measure(a, model, base):
    """{"ppl": (value, error), "kld": (mean, error), "same_top": (share, error)} of `model` against
    the base file, or (None, message)."""
    j, err = run_json([a.lmforge, "perplexity", "-m", model, "-t", str(a.threads), "--kl-divergence-base", base,
                       "--kl-divergence", "--json"])
    if j is None:
        return None, err
    pair = lambda k: (j[k]["value"], j[k]["error"])  # noqa: E731
    return {"ppl": pair("ppl"), "kld": pair("kld"), "same_top": pair("same_top"),
            "kld_p99": j["kld_percentiles"]["99"]}, ""


def text_file(a, split, path, limit):
    if not os.path.exists(path):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "brown_text.py"), "--split", split, "--out", path + ".all"],
                       check=True)
        with open(path + ".all", "rb") as f:
            data = f.read(limit) if limit else f.read()
        with open(path, "wb") as f:
            f.write(data[:data.rfind(b"\n") + 1] if limit else data)
        os.remove(path + ".all")
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "demo"))
    ap.add_argument("--heldout")
    ap.add_argument("--calib")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks-bytes", type=int, default=100000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--damp", type=float, default=None, help="gptq --damp (default: gptq's)")
    ap.add_argument("--gptq-only", action="store_true", help="only the GPTQ/RTN rows, against WORKDIR/f16.kld")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    GPTQ[:] = [("%s g%d" % (label, a.group_size), flags) for label, flags in GPTQ]
    held = a.heldout or text_file(a, "heldout", os.path.join(a.workdir, "heldout.txt"), a.chunks_bytes)
    calib = a.calib or text_file(a, "train", os.path.join(a.workdir, "calib.txt"), 400000)

    base = os.path.join(a.workdir, "f16.kld")
    rows = []
    for t in [] if a.gptq_only else TYPES:
        out = os.path.join(a.workdir, "demo.%s.gguf" % t.lower())
        r = subprocess.run([a.lmforge, "quantize", a.model, out, t, "--force", "-q"], stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            rows.append({"model": t, "error": r.stderr.strip()})
            continue
        if t == "F16":
            write_base(a, out, held, base)
        m, err = measure(a, out, base)
        rows.append(dict(m or {}, model=t, bytes=size_of(out), error=err))
        log("%s: %s" % (t, rows[-1]))
    damp = [] if a.damp is None else ["--damp", str(a.damp)]
    for label, flags in GPTQ:
        out = os.path.join(a.workdir, "demo-" + label.lower().replace(" ", "-"))
        cmd = [a.lmforge, "gptq", "-m", a.model, "--calib", calib, "-o", out, "--group-size", str(a.group_size),
               "--seqlen", str(a.ctx), "--nsamples", str(a.nsamples), "-t", str(a.threads), "--force", "-q"] + flags
        r = subprocess.run(cmd + ([] if "--rtn" in flags else damp), stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            rows.append({"model": label, "error": r.stderr.strip()[-300:]})
            log("%s: %s" % (label, rows[-1]))
            continue
        m, err = measure(a, out, base)
        rows.append(dict(m or {}, model=label, bytes=size_of(out), error=err))
        log("%s: %s" % (label, rows[-1]))
    if a.json:
        print(json.dumps({"heldout": held, "ctx": a.ctx, "nsamples": a.nsamples, "damp": a.damp, "rows": rows},
                         indent=1))
        return
    print("held-out text %s (%d bytes), -c %d, KL divergence from %s" % (held, os.path.getsize(held), a.ctx, base))
    print("| model | size | perplexity | mean KLD vs F16 | 99 % KLD | same top vs F16 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r.get("ppl"):
            print("| %s | %.2f MB | %.3f ± %.3f | %.6f ± %.6f | %.5f | %.2f ± %.2f %% |"
                  % (r["model"], r["bytes"] / 1e6, r["ppl"][0], r["ppl"][1], r["kld"][0], r["kld"][1], r["kld_p99"],
                     100 * r["same_top"][0], 100 * r["same_top"][1]))
        else:
            print("| %s | %s |" % (r["model"], r.get("error") or "failed"))


if __name__ == "__main__":
    main()
