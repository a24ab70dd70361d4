#!/usr/bin/python3
"""Conversion throughput and peak memory, lmforge beside a plain `cp` of the same bytes.

    convert_bench.py --lmforge build/lmforge --workdir /tmp/lmforge-bench [--reps 3] [--shape tinyllama]

Makes synthetic HF checkpoints (safetensors, and .bin shards) with bench/make_synthetic.py,
then alternates, within each repetition: cp of the safetensors file, lmforge HF safetensors ->
GGUF f16, -> GGUF q8_0, HF .bin shards -> GGUF f16, -> q8_0. The page cache is warmed before
each command (the input read once to /dev/null) so every engine starts from the same state.
Reports median seconds, GB/s of input bytes, the ratio to cp's throughput, and peak RSS
(ru_maxrss of the child) next to the targets: f16 -> f16 at >= 60 % of cp, peak RSS under
2 x the largest tensor + 100 MB.

    convert_bench.py --lmforge build/lmforge --workdir /work/bench-work --meta [--reps 1]

Meta consolidated shards instead: writes (once) a TinyLlama-1.1B-shape model in Meta's layout,
2 model-parallel shards of random f16 cut as Meta's model.py cuts them, params.json and a
trained tokenizer.model, under WORKDIR/meta-1b; then times cp of the shards and
`lmforge convert WORKDIR/meta-1b out.gguf` (f16), reporting MB/s of input and peak RSS beside
the model size and the largest merged tensor (the merge holds one whole tensor at a time).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_measured(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), err))
    return dt, ru.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def files_in(d):
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".safetensors", ".bin"))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shape", default="tinyllama")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--meta", action="store_true", help="benchmark Meta .pth shards -> GGUF instead")
    a = ap.parse_args()
    if a.meta:
        return main_meta(a)
    os.makedirs(a.workdir, exist_ok=True)
    st_dir = os.path.join(a.workdir, a.shape + "-safetensors")
    bin_dir = os.path.join(a.workdir, a.shape + "-bin")
    for d, fmt, shards in ((st_dir, "safetensors", 1), (bin_dir, "bin", 2)):
        if not os.path.exists(os.path.join(d, "config.json")):
            subprocess.run([sys.executable, os.path.join(HERE, "make_synthetic.py"), d, "--shape", a.shape,
                            "--format", fmt, "--shards", str(shards)], check=True)
    info = json.loads(subprocess.run([a.lmforge, "inspect", st_dir, "--json"], check=True,
                                     stdout=subprocess.PIPE).stdout)
    largest = max(t["bytes"] for t in info["tensors"])
    input_bytes = info["totals"]["bytes"]
    st_file = files_in(st_dir)[0]
    out = os.path.join(a.workdir, "out")

    cases = [
        ("cp safetensors", [st_file], ["cp", st_file, out]),
        ("safetensors f16 -> GGUF f16", files_in(st_dir), [a.lmforge, "convert", st_dir, out + ".gguf", "--outtype", "f16", "-q", "--force"]),
        ("safetensors f16 -> GGUF q8_0", files_in(st_dir), [a.lmforge, "convert", st_dir, out + ".gguf", "--outtype", "q8_0", "-q", "--force"]),
        (".bin shards f16 -> GGUF f16", files_in(bin_dir), [a.lmforge, "convert", bin_dir, out + ".gguf", "--outtype", "f16", "-q", "--force"]),
        (".bin shards f16 -> GGUF q8_0", files_in(bin_dir), [a.lmforge, "convert", bin_dir, out + ".gguf", "--outtype", "q8_0", "-q", "--force"]),
    ]
    times = {c[0]: [] for c in cases}
    rss = {c[0]: 0 for c in cases}
    for rep in range(a.reps):
        for name, inputs, cmd in cases:  # engines alternate within each repetition
            for f in (out, out + ".gguf"):
                if os.path.exists(f):
                    os.remove(f)
            warm(inputs)
            dt, peak = run_measured(cmd)
            times[name].append(dt)
            rss[name] = max(rss[name], peak)
    cp_rate = input_bytes / statistics.median(times["cp safetensors"])
    rows = []
    for name, _, cmd in cases:
        med = statistics.median(times[name])
        rate = input_bytes / med
        rows.append({"case": name, "median_s": med, "min_s": min(times[name]), "max_s": max(times[name]),
                     "gb_per_s": rate / 1e9, "vs_cp": rate / cp_rate, "peak_rss_mb": rss[name] / 1e6})
    budget = (2 * largest + 100e6) / 1e6
    result = {"shape": a.shape, "input_bytes": input_bytes, "largest_tensor_bytes": largest,
              "rss_budget_mb": budget, "reps": a.reps, "nproc": os.cpu_count(), "rows": rows}
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print("input %.2f GB, largest tensor %.1f MB, RSS budget %.0f MB, %d reps, medians"
          % (input_bytes / 1e9, largest / 1e6, budget, a.reps))
    print("%-32s %9s %9s %8s %12s" % ("case", "median s", "GB/s", "vs cp", "peak RSS MB"))
    for r in rows:
        print("%-32s %9.2f %9.2f %7.0f%% %12.0f" % (r["case"], r["median_s"], r["gb_per_s"], 100 * r["vs_cp"], r["peak_rss_mb"]))


# Meta's model-parallel cut per tensor kind: ColumnParallelLinear rows (0), RowParallelLinear
# columns (1), ParallelEmbedding width (1), norms replicated (None).
META_SPLIT = {"attention.wq": 0, "attention.wk": 0, "attention.wv": 0, "feed_forward.w1": 0, "feed_forward.w3": 0,
              "output": 0, "attention.wo": 1, "feed_forward.w2": 1, "tok_embeddings": 1}


def make_meta(d, shape, n_shards):
    import torch  # Debian's python3-torch
    sys.path.insert(0, HERE)
    from make_synthetic import SHAPES
    s = SHAPES[shape]
    hd = s["hidden"] // s["heads"]
    specs = [("tok_embeddings.weight", (s["vocab"], s["hidden"]))]
    for l in range(s["layers"]):
        p = "layers.%d." % l
        specs += [(p + "attention.wq.weight", (s["hidden"], s["hidden"])),
                  (p + "attention.wk.weight", (s["kv_heads"] * hd, s["hidden"])),
                  (p + "attention.wv.weight", (s["kv_heads"] * hd, s["hidden"])),
                  (p + "attention.wo.weight", (s["hidden"], s["hidden"])),
                  (p + "feed_forward.w1.weight", (s["ffn"], s["hidden"])),
                  (p + "feed_forward.w2.weight", (s["hidden"], s["ffn"])),
                  (p + "feed_forward.w3.weight", (s["ffn"], s["hidden"])),
                  (p + "attention_norm.weight", (s["hidden"],)), (p + "ffn_norm.weight", (s["hidden"],))]
    specs += [("norm.weight", (s["hidden"],)), ("output.weight", (s["vocab"], s["hidden"]))]
    os.makedirs(d, exist_ok=True)
    for k in range(n_shards):  # one shard in memory at a time: each tensor regenerated from its seed
        shard = {}
        for i, (name, sh) in enumerate(specs):
            g = torch.Generator().manual_seed(i)
            t = (torch.randn(*sh, generator=g) * 0.02).half()
            base = name[:-len(".weight")]
            kind = base.split(".", 2)[2] if base.startswith("layers.") else base
            dim = META_SPLIT.get(kind)
            shard[name] = t if dim is None else torch.chunk(t, n_shards, dim)[k].clone()
        torch.save(shard, os.path.join(d, "consolidated.%02d.pth" % k))
        del shard
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump({"dim": s["hidden"], "n_layers": s["layers"], "n_heads": s["heads"], "n_kv_heads": s["kv_heads"],
                   "vocab_size": s["vocab"], "multiple_of": 256, "norm_eps": 1e-5, "rope_theta": 10000.0}, f)
    # the tokenizer make_synthetic.py trains, taken from a small synthetic HF folder
    tok_dir = os.path.join(os.path.dirname(d), "small-tokenizer")
    if not os.path.exists(os.path.join(tok_dir, "tokenizer.model")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_synthetic.py"), tok_dir, "--shape", "small"], check=True)
    import shutil
    shutil.copy(os.path.join(tok_dir, "tokenizer.model"), os.path.join(d, "tokenizer.model"))


def main_meta(a):
    d = os.path.join(a.workdir, "meta-1b")
    if not os.path.exists(os.path.join(d, "params.json")):
        make_meta(d, a.shape, 2)
    shards = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("consolidated."))
    info = json.loads(subprocess.run([a.lmforge, "inspect", d, "--json"], check=True, stdout=subprocess.PIPE).stdout)
    largest = max(t["bytes"] for t in info["tensors"])
    input_bytes = info["totals"]["bytes"]
    out = os.path.join(a.workdir, "meta-out")
    cases = [("cp shards", ["sh", "-c", "cat \"$@\" > " + out, "cat"] + shards),
             ("Meta 2 shards f16 -> GGUF f16", [a.lmforge, "convert", d, out + ".gguf", "-q", "--force"])]
    times = {c[0]: [] for c in cases}
    rss = {c[0]: 0 for c in cases}
    for rep in range(a.reps):
        for name, cmd in cases:
            for f in (out, out + ".gguf"):
                if os.path.exists(f):
                    os.remove(f)
            warm(shards)
            dt, peak = run_measured(cmd)
            times[name].append(dt)
            rss[name] = max(rss[name], peak)
    rows = []
    for name, _ in cases:
        med = statistics.median(times[name])
        rows.append({"case": name, "median_s": med, "mb_per_s": input_bytes / med / 1e6, "peak_rss_mb": rss[name] / 1e6})
    result = {"shape": a.shape, "shards": len(shards), "input_bytes": input_bytes, "largest_tensor_bytes": largest,
              "reps": a.reps, "nproc": os.cpu_count(), "rows": rows}
    for f in (out, out + ".gguf"):
        if os.path.exists(f):
            os.remove(f)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print("Meta shards: input %.2f GB in %d files, largest merged tensor %.1f MB, %d reps, medians"
          % (input_bytes / 1e9, len(shards), largest / 1e6, a.reps))
    print("%-32s %9s %9s %12s %14s" % ("case", "median s", "MB/s", "peak RSS MB", "RSS / model"))
    for r in rows:
        print("%-32s %9.2f %9.0f %12.0f %13.1f%%" % (r["case"], r["median_s"], r["mb_per_s"], r["peak_rss_mb"],
                                                    100 * r["peak_rss_mb"] * 1e6 / input_bytes))


if __name__ == "__main__":
    main()
