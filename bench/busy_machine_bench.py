#!/usr/bin/python3
"""Engine speed at 1 and 2 threads on a machine that is busy with other work (issue 12, Deliver 4).

    busy_machine_bench.py --lmforge build/lmforge [--lmforge main=/path/to/main/lmforge ...]
                          --models /work/bench-all/tinyllama.q4_0.gguf,demo.q4_0.gguf
                          [--threads 1,2] [--hogs 2] [--reps 3] [--n-prompt 128] [--n-gen 64]
                          [--phases quiet,busy] [--no-llama-cpp] [--json]

A server shares its machine: when another process keeps a core busy, a thread pool whose
threads spin at every step's barrier waits a scheduler quantum for each descheduled partner,
and generation collapses. This script shows it. Per phase:

  quiet  no added load (whatever else runs on the machine still runs: see the load averages);
  busy   --hogs busy-loop processes started first and kept running for the whole phase.

Within a phase, every engine (each --lmforge binary, named NAME=PATH or by its path, and
llama.cpp through bench/llama_cpp_bench.mjs unless --no-llama-cpp) runs at every --threads
count, each run a fresh process (`lmforge bench -r 1 --warmup 0 --json`, as engine_bench.py
does), the order of the runs reversed on every other repetition; one untimed warm-up run per
engine first. Reported: median prompt (pp) and generation (tg) tokens/s with min-max, and
per engine the ratio of the default thread count's (the largest of --threads) generation speed
to the best thread count's: the issue's floor is 1/1.5 = 0.67 under load.

The hogs are bounded twice: each exits by itself after --hog-max-s seconds, and the script
kills them (by their process ids) when the phase ends, whatever happens (error, Ctrl-C).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LLAMA_CPP_BENCH = os.path.join(HERE, "llama_cpp_bench.mjs")

# One busy process: a tight loop that ends by itself at its deadline.
HOG_CODE = "import time\nend = time.monotonic() + %f\nwhile time.monotonic() < end:\n    pass\n"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Hogs:
    """N busy-loop processes, started on enter and killed on exit."""

    def __init__(self, n, max_s):
        self.n, self.max_s, self.procs = n, max_s, []

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", HOG_CODE % self.max_s]))
        time.sleep(1.0)  # let the scheduler see them as the CPU-bound tasks they are
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []
        return False

    def all_running(self):
        return all(p.poll() is None for p in self.procs)


def run_json(cmd, timeout):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("command failed (exit %d): %s\n%s"
                           % (p.returncode, " ".join(cmd), p.stderr.decode(errors="replace")[-2000:]))
    return json.loads(p.stdout)


def lmforge_cmd(binary):
    def cmd(args, model, threads):
        return [binary, "bench", "-m", model, "-p", str(args.n_prompt), "-n", str(args.n_gen),
                "-t", str(threads), "-r", "1", "--warmup", "0", "--json"]
    return cmd


def llama_cpp_cmd(args, model, threads):
    return ["node", LLAMA_CPP_BENCH, model, "--threads", str(threads), "--n-prompt", str(args.n_prompt),
            "--n-gen", str(args.n_gen), "--reps", "1", "--warmup", "0"]


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def measure_phase(args, phase, engines, model):
    """Every (engine, threads) of one model in one phase; returns {engine: {threads: {pp, tg}}}."""
    combos = [(name, t) for name in engines for t in args.threads]
    for name in engines:  # warm-up: page cache, CPU clocks
        run_json(engines[name](args, model, args.threads[-1]), args.run_timeout)
    runs = {name: {t: {"pp": [], "tg": []} for t in args.threads} for name in engines}
    for r in range(args.reps):
        for name, t in (combos if r % 2 == 0 else combos[::-1]):
            j = run_json(engines[name](args, model, t), args.run_timeout)
            pp, tg = j["pp_runs"][0], j["tg_runs"][0]
            runs[name][t]["pp"].append(pp)
            runs[name][t]["tg"].append(tg)
            log("  %s rep %d %-12s -t %d  pp %9.2f t/s  tg %8.2f t/s  load %.2f"
                % (phase, r + 1, name, t, pp, tg, os.getloadavg()[0]))
    return {name: {t: {"pp": spread(v["pp"]), "tg": spread(v["tg"])} for t, v in by_t.items()}
            for name, by_t in runs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmforge", action="append", required=True,
                    help="lmforge binary, PATH or NAME=PATH; repeat to compare builds")
    ap.add_argument("--models", required=True, help="comma-separated GGUF files")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--hogs", type=int, default=2, help="busy processes in the busy phase")
    ap.add_argument("--hog-max-s", type=float, default=3600, help="each hog exits by itself after this")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n-prompt", type=int, default=128)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--phases", default="quiet,busy")
    ap.add_argument("--run-timeout", type=float, default=600, help="seconds one run may take")
    ap.add_argument("--no-llama-cpp", action="store_true")
    ap.add_argument("--json", action="store_true", help="print a JSON summary after the table")
    args = ap.parse_args()
    args.threads = sorted({int(t) for t in args.threads.split(",")})
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if args.reps < 1 or args.hogs < 0 or args.threads[0] < 1 or not set(phases) <= {"quiet", "busy"}:
        sys.exit("--reps >= 1, --hogs >= 0, --threads >= 1, --phases from quiet,busy")
    engines = {}
    for spec in args.lmforge:
        name, _, path = spec.rpartition("=")
        path = os.path.abspath(path)
        if not os.access(path, os.X_OK):
            sys.exit("%s is not an executable" % path)
        engines[name or ("lmforge" if len(args.lmforge) == 1 else path)] = lmforge_cmd(path)
    if not args.no_llama_cpp:
        engines["llama.cpp"] = llama_cpp_cmd
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if not os.path.isfile(m):
            sys.exit("%s: no such file" % m)

    # A Ctrl-C or kill of the script still runs the Hogs' __exit__.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    results = []
    for model in models:
        for phase in phases:
            load_before = os.getloadavg()
            log("%s, %s phase (load %.2f %.2f %.2f)" % (os.path.basename(model), phase, *load_before))
            if phase == "busy":
                with Hogs(args.hogs, args.hog_max_s) as hogs:
                    res = measure_phase(args, phase, engines, model)
                    if not hogs.all_running():
                        sys.exit("a hog ended before the phase did: raise --hog-max-s")
            else:
                res = measure_phase(args, phase, engines, model)
            results.append({"model": model, "phase": phase, "hogs": args.hogs if phase == "busy" else 0,
                            "load_before": load_before, "load_after": os.getloadavg(), "engines": res})
    print_table(args, results)
    if args.json:
        print(json.dumps({"threads": args.threads, "reps": args.reps, "n_prompt": args.n_prompt,
                          "n_gen": args.n_gen, "results": results}, indent=1))


def print_table(args, results):
    print("%d repetitions, runs alternating; pp%d / tg%d; medians with (min-max); default = -t %d."
          % (args.reps, args.n_prompt, args.n_gen, args.threads[-1]))
    print()
    print("| model | phase (load 1-min before/after) | engine | threads | pp t/s | tg t/s | tg default / best |")
    print("|---|---|---|---:|---:|---:|---:|")

    def cell(s):
        return "%.1f (%.1f-%.1f)" % (s["median"], s["min"], s["max"])
    for res in results:
        phase = "%s, %d hogs (%.1f/%.1f)" % (res["phase"], res["hogs"], res["load_before"][0], res["load_after"][0])
        for name, by_t in res["engines"].items():
            best = max(v["tg"]["median"] for v in by_t.values())
            default = by_t[args.threads[-1]]["tg"]["median"]
            for t, v in by_t.items():
                ratio = "%.2f" % (default / best) if t == args.threads[-1] else ""
                print("| %s | %s | %s | %d | %s | %s | %s |" % (os.path.basename(res["model"]), phase, name, t,
                                                              cell(v["pp"]), cell(v["tg"]), ratio))


if __name__ == "__main__":
    main()
