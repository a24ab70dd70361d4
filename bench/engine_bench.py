#!/usr/bin/python3
"""lmforge beside llama.cpp (node-llama-cpp), same GGUF files, same thread count, one run.

    engine_bench.py --lmforge build/lmforge --workdir /work/bench-work [--threads 2] [--reps 5]
                    [--models tinyllama-f16,tinyllama-q8_0,tinyllama-q4_0,llama7b-q4_0]
                    [--n-prompt 512] [--n-gen 128] [--stream-copy build/bench/lmforge_stream_copy]
                    [--keep-hf] [--json]

Models are SHAPE-TYPE: a synthetic checkpoint of bench/make_synthetic.py's SHAPE (tinyllama:
TinyLlama-1.1B, llama7b: LLaMA-7B, small: a quick 2-layer test) with random F16 weights,
converted by lmforge to TYPE (f16, q8_0, q4_0, ...). Files are made in --workdir when missing
and reused otherwise; the HF folder of llama7b (13.5 GB) is deleted once its GGUFs exist unless
--keep-hf.

Per model: one untimed warm-up process of each engine (page cache, CPU clocks), then --reps
repetitions; within each the two engines run one after the other, in alternating order, each
as a fresh process: `lmforge bench -r 1 --warmup 0 --json` and bench/llama_cpp_bench.mjs
(--reps 1). Each measures prompt processing (n-prompt random ids in one batch, fresh context)
and generation (n-gen tokens, one evaluation each, greedy). Peak RSS is the child's ru_maxrss.
Reported: median tokens/s with min-max, lmforge / llama.cpp ratios of the medians.

Roofline: generating a token reads every weight matrix once (token_embd only one row, unless it
is also the output head), so tokens/s <= copy bandwidth / bytes of weights. The bandwidth is
lmforge_stream_copy's best copy rate at 1 and 2 threads (and --threads), measured before and
after the engines in this same run (the higher of the two runs is used: the bound).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LLAMA_CPP_BENCH = os.path.join(HERE, "llama_cpp_bench.mjs")
DEFAULT_MODELS = "tinyllama-f16,tinyllama-q8_0,tinyllama-q4_0,llama7b-q4_0"


def run_child(cmd):
    """Run cmd, return (stdout bytes, peak RSS in bytes from wait4's rusage)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read the pipes fully before reaping so that a chatty child cannot block on a full pipe.
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    p.stderr.close()
    raise_if_failed(cmd, p.returncode, err)
    return out, ru.ru_maxrss * 1024  # KiB on Linux


def raise_if_failed(cmd, rc, err):
    if rc != 0:
        sys.exit("command failed (exit %d): %s\n%s" % (rc, " ".join(cmd), err.decode(errors="replace")[-3000:]))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def prepare(args, spec):
    shape, outtype = spec.rsplit("-", 1)
    gguf = os.path.join(args.workdir, "%s.%s.gguf" % (shape, outtype))
    if os.path.exists(gguf):
        return gguf
    hf = os.path.join(args.workdir, "%s-hf" % shape)
    # bench/convert_bench.py leaves the same (seed 0) checkpoint as SHAPE-safetensors: reuse it
    made_by_convert_bench = os.path.join(args.workdir, "%s-safetensors" % shape)
    if not os.path.exists(os.path.join(hf, "config.json")) and \
            os.path.exists(os.path.join(made_by_convert_bench, "config.json")):
        hf = made_by_convert_bench
    if not os.path.exists(os.path.join(hf, "config.json")):
        log("making %s (bench/make_synthetic.py --shape %s)" % (hf, shape))
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_synthetic.py"), hf, "--shape", shape],
                       check=True)
    log("converting %s -> %s" % (hf, gguf))
    subprocess.run([args.lmforge, "convert", hf, gguf, "--outtype", outtype, "--quiet"], check=True)
    return gguf


def drop_hf_folders(args, specs):
    if args.keep_hf:
        return
    for shape in {s.rsplit("-", 1)[0] for s in specs}:
        hf = os.path.join(args.workdir, "%s-hf" % shape)
        if shape == "llama7b" and os.path.isdir(hf):
            log("removing %s (13.5 GB; --keep-hf keeps it)" % hf)
            shutil.rmtree(hf)


def weight_bytes_per_token(lmforge, gguf):
    """Bytes of weights one generated token reads: every 2-D tensor, except that only one row
    of token_embd is read when the model has its own output.weight."""
    info = json.loads(subprocess.run([lmforge, "inspect", gguf, "--json"], check=True,
                                     stdout=subprocess.PIPE).stdout)
    tensors = {t["name"]: t for t in info["tensors"]}
    total = 0
    for name, t in tensors.items():
        if name == "token_embd.weight" and "output.weight" in tensors:
            total += t["bytes"] // rows_of(t)
        else:
            total += t["bytes"]
    return total, info


def rows_of(t):
    # GGUF dims are innermost first: [n_embd, n_vocab] for token_embd
    return max(1, t["shape"][1]) if len(t["shape"]) > 1 else 1


def main_type(info):
    by_type = {}
    for t in info["tensors"]:
        by_type[t["dtype"]] = by_type.get(t["dtype"], 0) + t["bytes"]
    return max(by_type, key=by_type.get)


def stream_copy(binary, threads):
    out = subprocess.run([binary, "--threads", str(threads), "--json"], check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)["best_gb_per_s"]


def lmforge_once(args, gguf):
    cmd = [args.lmforge, "bench", "-m", gguf, "-p", str(args.n_prompt), "-n", str(args.n_gen),
           "-t", str(args.threads), "-r", "1", "--warmup", "0", "--json"]
    out, rss = run_child(cmd)
    j = json.loads(out)
    return j["pp_runs"][0], j["tg_runs"][0], rss


def llama_cpp_once(args, gguf):
    cmd = ["node", LLAMA_CPP_BENCH, gguf, "--threads", str(args.threads), "--n-prompt", str(args.n_prompt),
           "--n-gen", str(args.n_gen), "--reps", "1", "--warmup", "0"]
    out, rss = run_child(cmd)
    j = json.loads(out)
    return j["pp_runs"][0], j["tg_runs"][0], rss


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "stddev": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--n-prompt", type=int, default=512)
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--stream-copy", default=None,
                    help="lmforge_stream_copy binary (default: bench/lmforge_stream_copy next to --lmforge)")
    ap.add_argument("--keep-hf", action="store_true")
    ap.add_argument("--json", action="store_true", help="print a JSON summary after the table")
    args = ap.parse_args()
    if args.threads < 1 or args.reps < 1:
        sys.exit("--threads and --reps must be at least 1")
    args.lmforge = os.path.abspath(args.lmforge)
    stream = args.stream_copy or os.path.join(os.path.dirname(args.lmforge), "bench", "lmforge_stream_copy")
    for f in (args.lmforge, stream):
        if not os.access(f, os.X_OK):
            sys.exit("%s is missing (build the lmforge and lmforge_stream_copy targets)" % f)
    if shutil.which("node") is None or not os.path.isdir(os.path.join(ROOT, "tests", "oracles", "node_modules",
                                                                          "node-llama-cpp")):
        sys.exit("node and tests/oracles/node_modules (scripts/install_oracles.sh) are needed for llama.cpp")
    os.makedirs(args.workdir, exist_ok=True)
    specs = [s.strip() for s in args.models.split(",") if s.strip()]
    files = {s: prepare(args, s) for s in specs}
    drop_hf_folders(args, specs)

    thread_counts = sorted({1, 2, args.threads})
    bw_before = {t: stream_copy(stream, t) for t in thread_counts}
    log("copy bandwidth before: " + ", ".join("%d thr %.2f GB/s" % (t, b) for t, b in bw_before.items()))

    results = []
    for spec in specs:
        gguf = files[spec]
        wbytes, info = weight_bytes_per_token(args.lmforge, gguf)
        log("%s: %s, %.2f GB of weights per token; warming up" % (spec, main_type(info), wbytes / 1e9))
        lmforge_once(args, gguf)
        llama_cpp_once(args, gguf)
        runs = {"lmforge": {"pp": [], "tg": [], "rss": []}, "llama.cpp": {"pp": [], "tg": [], "rss": []}}
        engines = [("lmforge", lmforge_once), ("llama.cpp", llama_cpp_once)]
        for r in range(args.reps):
            order = engines if r % 2 == 0 else engines[::-1]
            for name, fn in order:
                t0 = time.perf_counter()
                pp, tg, rss = fn(args, gguf)
                runs[name]["pp"].append(pp)
                runs[name]["tg"].append(tg)
                runs[name]["rss"].append(rss)
                log("  rep %d %-9s pp %8.2f t/s  tg %7.2f t/s  peak RSS %6.0f MB  (%.0f s)"
                    % (r + 1, name, pp, tg, rss / 1e6, time.perf_counter() - t0))
        results.append({"model": spec, "file": gguf, "type": main_type(info), "file_bytes": os.path.getsize(gguf),
                        "weight_bytes_per_token": wbytes,
                        "engines": {name: {"pp": spread(v["pp"]), "tg": spread(v["tg"]),
                                           "peak_rss_bytes": max(v["rss"])} for name, v in runs.items()}})

    bw_after = {t: stream_copy(stream, t) for t in thread_counts}
    log("copy bandwidth after: " + ", ".join("%d thr %.2f GB/s" % (t, b) for t, b in bw_after.items()))
    bw = {t: max(bw_before[t], bw_after[t]) for t in thread_counts}
    for res in results:
        roof = bw[args.threads] * 1e9 / res["weight_bytes_per_token"]
        res["roofline_tg_tokens_per_s"] = roof
        for e in res["engines"].values():
            e["tg_percent_of_roofline"] = 100 * e["tg"]["median"] / roof
        lm, lc = res["engines"]["lmforge"], res["engines"]["llama.cpp"]
        res["pp_ratio"] = lm["pp"]["median"] / lc["pp"]["median"]
        res["tg_ratio"] = lm["tg"]["median"] / lc["tg"]["median"]

    print_table(args, results, bw_before, bw_after)
    if args.json:
        print(json.dumps({"threads": args.threads, "reps": args.reps, "n_prompt": args.n_prompt,
                          "n_gen": args.n_gen, "copy_gb_per_s": {"before": bw_before, "after": bw_after},
                          "models": results}, indent=1))


def print_table(args, results, bw_before, bw_after):
    t = args.threads
    print("Threads: %d; %d repetitions, engines alternating; pp%d / tg%d; medians with (min-max)."
          % (t, args.reps, args.n_prompt, args.n_gen))
    print("Copy bandwidth (lmforge_stream_copy, best of 10, 2 x 512 MiB): "
          + "; ".join("%d thread%s %.2f / %.2f GB/s (before / after)" % (k, "" if k == 1 else "s", bw_before[k],
                                                                      bw_after[k]) for k in sorted(bw_before)))
    print()
    print("| model | type | GB/token | engine | pp t/s | tg t/s | pp vs llama.cpp | tg vs llama.cpp "
          "| tg roofline t/s | tg % of roofline | peak RSS MB |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")

    def cell(s):
        return "%.2f (%.2f-%.2f)" % (s["median"], s["min"], s["max"])
    for res in results:
        for name in ("lmforge", "llama.cpp"):
            e = res["engines"][name]
            ratio_pp = "%.2fx" % res["pp_ratio"] if name == "lmforge" else ""
            ratio_tg = "%.2fx" % res["tg_ratio"] if name == "lmforge" else ""
            print("| %s | %s | %.3f | %s | %s | %s | %s | %s | %.2f | %.0f %% | %.0f |" % (
                res["model"], res["type"], res["weight_bytes_per_token"] / 1e9, name, cell(e["pp"]),
                cell(e["tg"]), ratio_pp, ratio_tg, res["roofline_tg_tokens_per_s"], e["tg_percent_of_roofline"],
                e["peak_rss_bytes"] / 1e6))


if __name__ == "__main__":
    main()
