#!/usr/bin/python3
"""LoRA training speed: `lmforge finetune` against PyTorch on the CPU, same shape, batch, ctx,
rank, targets and threads (issue 13, Benchmarks).

    train_bench.py --lmforge build/lmforge --shape llama100m|tinyllama --gguf MODEL.gguf \\
                   [--ctx 256] [--batch 4] [--rank 8] [--steps 3] [-t 2] [--repeats 2]

MODEL.gguf is a base of that shape (any type lmforge trains through: F32, F16, Q4_0, ...; for
llama100m make one with bench/make_synthetic.py --shape llama100m and `lmforge convert
--outtype f32`). PyTorch (Debian's python3-torch on its OpenBLAS) trains the same LoRA (q, k,
v, o, gate, up, down; alpha 16) on frozen float32 weights of the same shape (random: speed does
not depend on the values) with torch.optim.AdamW. Both run as child processes, alternately,
`--repeats` times each; the report gives each run's training tokens/s (batch * ctx * steps /
training time, loading excluded) and peak RSS, the medians and their ratio. Quote the load
average with the numbers (the machine is shared).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = {
    "llama100m": dict(hidden=768, layers=12, heads=12, kv_heads=4, ffn=2048, vocab=32000),
    "tinyllama": dict(hidden=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000),
}


def timed_child(cmd):
    """Runs cmd under a python -c wrapper: (stdout, its peak RSS in MiB, its CPU seconds, loading
    included)."""
    wrapper = ("import json,os,resource,subprocess,sys;p=subprocess.run(sys.argv[1:],capture_output=True);"
               "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
               "sys.stderr.buffer.write(p.stderr);print(json.dumps({'rc':p.returncode,'rss_kib':u.ru_maxrss,"
               "'cpu':u.ru_utime+u.ru_stime,'out':p.stdout.decode()}))")
    r = subprocess.run([sys.executable, "-c", wrapper] + cmd, capture_output=True)
    res = json.loads(r.stdout)
    if res["rc"] != 0:
        sys.exit("train_bench: %s failed:\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-3000:]))
    return res["out"], res["rss_kib"] / 1024.0, res["cpu"]


def data_file(work, ctx, batch, steps):
    """Plain English text, enough for the steps without wrapping (the docs of this repo)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = ""
    for name in sorted(os.listdir(os.path.join(here, "docs"))):
        if name.endswith(".md"):
            with open(os.path.join(here, "docs", name), encoding="utf-8") as f:
                text += f.read()
    path = os.path.join(work, "train_bench_data.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def torch_worker(a):
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    s = SHAPES[a.shape]
    H, F, V, hd = s["hidden"], s["ffn"], s["vocab"], s["hidden"] // s["heads"]
    nh, nkv, r = s["heads"], s["kv_heads"], a.rank
    scale = 16.0 / r

    def frozen(o, i):
        return (torch.randn(o, i) * 0.02).requires_grad_(False)

    class Lora(torch.nn.Module):
        def __init__(self, o, i):
            super().__init__()
            self.w = frozen(o, i)
            self.a = torch.nn.Parameter(torch.empty(r, i).uniform_(-i ** -0.5, i ** -0.5))
            self.b = torch.nn.Parameter(torch.zeros(o, r))

        def forward(self, x):
            return x @ self.w.T + (x @ self.a.T) @ self.b.T * scale

    layers = []
    for _ in range(s["layers"]):
        layers.append(dict(q=Lora(nh * hd, H), k=Lora(nkv * hd, H), v=Lora(nkv * hd, H), o=Lora(H, nh * hd),
                           gate=Lora(F, H), up=Lora(F, H), down=Lora(H, F),
                           n1=torch.ones(H), n2=torch.ones(H)))
    emb, head, norm = frozen(V, H), frozen(V, H), torch.ones(H)
    params = [p for L in layers for m in L.values() if isinstance(m, Lora) for p in (m.a, m.b)]
    opt = torch.optim.AdamW(params, lr=1e-4)
    inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    f = torch.outer(torch.arange(a.ctx, dtype=torch.float32), inv)
    cos, sin = torch.cat((f, f), -1).cos(), torch.cat((f, f), -1).sin()
    mask = torch.full((a.ctx, a.ctx), float("-inf")).triu(1)

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def rot(t):
        h = t.shape[-1] // 2
        return t * cos + torch.cat((-t[..., h:], t[..., :h]), -1) * sin

    def loss_of(ids):
        inp, tgt = ids[:, :-1], ids[:, 1:]
        B, T = inp.shape
        x = emb[inp]
        for L in layers:
            h = rms(x, L["n1"])
            q = L["q"](h).view(B, T, nh, hd).transpose(1, 2)
            k = L["k"](h).view(B, T, nkv, hd).transpose(1, 2)
            v = L["v"](h).view(B, T, nkv, hd).transpose(1, 2)
            q, k = rot(q), rot(k)
            k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + mask, -1)
            x = x + L["o"]((att @ v).transpose(1, 2).reshape(B, T, nh * hd))
            h = rms(x, L["n2"])
            x = x + L["down"](torch.nn.functional.silu(L["gate"](h)) * L["up"](h))
        logits = rms(x, norm) @ head.T
        return torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1))

    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(3, V, (a.batch, a.ctx + 1), generator=g) for _ in range(a.steps)]
    t0 = time.perf_counter()
    for ids in batches:
        opt.zero_grad()
        loss_of(ids).backward()
        opt.step()
    sec = time.perf_counter() - t0
    print(json.dumps({"tokens_per_s": a.batch * a.ctx * a.steps / sec, "blas": torch.__config__.show()
                      .count("OpenBLAS") > 0}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmforge")
    ap.add_argument("--gguf")
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--low-memory", action="store_true", help="also time lmforge finetune --low-memory (activations recomputed)")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        return torch_worker(a)
    if not a.lmforge or not a.gguf:
        ap.error("--lmforge and --gguf are required")
    data = data_file(a.work, a.ctx, a.batch, a.steps)
    out = os.path.join(a.work, "train_bench_adapter.gguf")
    ours_cmd = [a.lmforge, "finetune", "-m", a.gguf, "--data", data, "-o", out, "--ctx", str(a.ctx),
                "--batch", str(a.batch), "--steps", str(a.steps), "--lora-rank", str(a.rank), "--lora-alpha", "16",
                "-t", str(a.threads), "--no-shuffle", "--json"]
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--shape", a.shape, "--ctx",
                 str(a.ctx), "--batch", str(a.batch), "--steps", str(a.steps), "--rank", str(a.rank),
                 "-t", str(a.threads)]
    engines = [("lmforge", ours_cmd)]
    if a.low_memory:
        engines.append(("lmforge --low-memory", ours_cmd + ["--low-memory"]))
    engines.append(("pytorch", torch_cmd))
    results = {name: [] for name, _ in engines}
    print("load average before: %s" % open("/proc/loadavg").read().split()[:3])
    for i in range(a.repeats):
        for name, cmd in engines:  # alternately, so drifts of the shared machine hit every engine
            o, rss, cpu = timed_child(cmd)
            results[name].append((json.loads(o)["tokens_per_s"], rss, cpu))
            print("%s run %d: %.1f tokens/s, peak RSS %.0f MiB, %.1f CPU s (loading included)"
                  % (name, i + 1, *results[name][-1]), flush=True)
    mt = statistics.median(x for x, _, _ in results["pytorch"])
    for name, _ in engines[:-1]:
        mo = statistics.median(x for x, _, _ in results[name])
        print("shape %s, ctx %d, batch %d, rank %d, %d steps, %d threads: %s %.1f tokens/s (median), "
              "pytorch %.1f tokens/s: ratio %.2fx" % (a.shape, a.ctx, a.batch, a.rank, a.steps, a.threads, name, mo,
                                                      mt, mo / mt))
    print("load average after: %s" % open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
