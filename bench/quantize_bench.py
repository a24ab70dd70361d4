#!/usr/bin/python3
"""`lmforge quantize` beside `llama-quantize`: same F16 GGUF, same thread count, one run.

    quantize_bench.py --lmforge build/lmforge --llama-quantize DIR/llama-quantize
                      --workdir /work/bench-work [--threads 2] [--reps 3]
                      [--types Q4_K_M,Q8_0,Q4_0] [--shape tinyllama] [--json]

The input is WORKDIR/SHAPE.f16.gguf (the file bench/engine_bench.py makes for SHAPE-f16; made
here the same way when missing: a synthetic checkpoint of bench/make_synthetic.py converted by
lmforge). Per TYPE, one untimed run of each tool (page cache, clocks), then --reps repetitions
in which the two tools run one after the other in alternating order, each a fresh process
writing to WORKDIR/quantize-bench.TOOL.gguf (deleted after). Reported: median seconds (min-max)
per tool, llama-quantize / lmforge (the speed-up; the issue's target is >= 1.5), and peak RSS
(the child's ru_maxrss) next to the largest tensor of the input and of the output, since a
streaming quantizer needs about one input tensor and one output tensor at a time.

The first repetition also checks that both outputs have the same tensor types and data
(`lmforge inspect --json` of each: name, type, offset-independent size); tensor order may
differ, which does not matter to any reader.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_measured(cmd):
    """Run cmd; return (seconds, peak RSS bytes). Exit with its stderr when it fails."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), err.decode(errors="replace")[-3000:]))
    return dt, ru.ru_maxrss * 1024


def make_input(a):
    gguf = os.path.join(a.workdir, "%s.f16.gguf" % a.shape)
    if os.path.exists(gguf):
        return gguf
    hf = os.path.join(a.workdir, "%s-hf" % a.shape)
    if not os.path.exists(os.path.join(hf, "config.json")):
        log("making %s (bench/make_synthetic.py --shape %s)" % (hf, a.shape))
        subprocess.run([sys.executable, os.path.join(HERE, "make_synthetic.py"), hf, "--shape", a.shape], check=True)
    log("converting %s -> %s" % (hf, gguf))
    subprocess.run([a.lmforge, "convert", hf, gguf, "--outtype", "f16", "--quiet"], check=True)
    return gguf


def tensors_of(lmforge, gguf):
    info = json.loads(subprocess.run([lmforge, "inspect", gguf, "--json"], check=True, stdout=subprocess.PIPE).stdout)
    return {t["name"]: t for t in info["tensors"]}


def tensor_bytes(path, lmforge):
    """name -> (type, sha of the tensor's bytes) for every tensor of a GGUF."""
    import hashlib
    out = {}
    size = os.path.getsize(path)
    ts = tensors_of(lmforge, path)
    with open(path, "rb") as f:
        for name, t in ts.items():
            f.seek(t["offset"])
            n = t["bytes"]
            if t["offset"] + n > size:
                sys.exit("%s: tensor %s runs past the end" % (path, name))
            out[name] = (t["dtype"], hashlib.sha256(f.read(n)).hexdigest())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--llama-quantize", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--types", default="Q4_K_M,Q8_0,Q4_0")
    ap.add_argument("--shape", default="tinyllama")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    src = make_input(a)
    largest_in = max(t["bytes"] for t in tensors_of(a.lmforge, src).values())
    outs = {"lmforge": os.path.join(a.workdir, "quantize-bench.lmforge.gguf"),
            "llama-quantize": os.path.join(a.workdir, "quantize-bench.llama.gguf")}

    def command(tool, qtype):
        if tool == "lmforge":
            return [a.lmforge, "quantize", src, outs[tool], qtype, "-t", str(a.threads), "--force", "--quiet"]
        return [a.llama_quantize, src, outs[tool], qtype, str(a.threads)]

    rows = []
    for qtype in a.types.split(","):
        times = {tool: [] for tool in outs}
        rss = {tool: 0 for tool in outs}
        for tool in outs:  # untimed warm-up, and the identity check
            run_measured(command(tool, qtype))
        same = tensor_bytes(outs["lmforge"], a.lmforge) == tensor_bytes(outs["llama-quantize"], a.lmforge)
        largest_out = max(t["bytes"] for t in tensors_of(a.lmforge, outs["lmforge"]).values())
        for rep in range(a.reps):
            order = list(outs) if rep % 2 == 0 else list(reversed(list(outs)))
            for tool in order:
                dt, r = run_measured(command(tool, qtype))
                times[tool].append(dt)
                rss[tool] = max(rss[tool], r)
                log("%s %s rep %d: %.2f s, %.0f MB" % (qtype, tool, rep + 1, dt, r / 1e6))
        for path in outs.values():
            if os.path.exists(path):
                os.remove(path)
        med = {tool: statistics.median(times[tool]) for tool in outs}
        rows.append({"type": qtype, "identical": same,
                     "lmforge_s": med["lmforge"], "llama_quantize_s": med["llama-quantize"],
                     "lmforge_range": [min(times["lmforge"]), max(times["lmforge"])],
                     "llama_quantize_range": [min(times["llama-quantize"]), max(times["llama-quantize"])],
                     "speedup": med["llama-quantize"] / med["lmforge"],
                     "lmforge_rss_mb": rss["lmforge"] / 1e6, "llama_quantize_rss_mb": rss["llama-quantize"] / 1e6,
                     "largest_tensor_in_mb": largest_in / 1e6, "largest_tensor_out_mb": largest_out / 1e6})
    if a.json:
        print(json.dumps({"input": src, "threads": a.threads, "reps": a.reps, "rows": rows}, indent=1))
        return
    print("input %s, %d threads, %d reps, medians (min-max)" % (src, a.threads, a.reps))
    print("%-8s %-9s %-22s %-22s %8s %12s %12s" % ("type", "identical", "lmforge s", "llama-quantize s", "speed-up",
                                                   "lmforge RSS", "llama RSS"))
    for r in rows:
        print("%-8s %-9s %6.2f (%5.2f-%5.2f)   %6.2f (%5.2f-%5.2f)   %7.2fx %9.0f MB %9.0f MB" % (
            r["type"], "yes" if r["identical"] else "NO", r["lmforge_s"], *r["lmforge_range"], r["llama_quantize_s"],
            *r["llama_quantize_range"], r["speedup"], r["lmforge_rss_mb"], r["llama_quantize_rss_mb"]))
    print("largest tensor: %.0f MB in, %.0f MB out" % (rows[0]["largest_tensor_in_mb"], rows[0]["largest_tensor_out_mb"]))


if __name__ == "__main__":
    main()
