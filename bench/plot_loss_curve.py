#!/usr/bin/python3
"""The loss curve of a `lmforge finetune` run, drawn to a PNG: one curve per base type.

Converts MODEL (any folder or file `lmforge convert` reads) to each --types base in a scratch
folder, fine-tunes a LoRA adapter on DATA from each with the same settings and seed (`--json`
gives the loss of every step), and plots loss against step; the per-type fragment perplexity
before and after (`lmforge perplexity`, with and without the adapter) goes in the legend and on
stdout. On a quantized base the frozen weights are read in their own type (QLoRA-style), so the
curves show what quantizing the base costs the fine-tuning.

    bench/plot_loss_curve.py --lmforge build/lmforge --model models/demo \\
        --data examples/lighthouse.txt -o docs/loss-curve-lighthouse.png

Needs Debian's python3-matplotlib (a benchmark-only dependency: `apt-get install
python3-matplotlib`). The PNG carries no timestamp, so reruns on one machine give the same file.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def lmforge(exe, *args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("plot_loss_curve: %s %s failed:\n%s" % (exe, " ".join(args), r.stderr.strip()))
    return r.stdout


def fragment_perplexity(exe, model, data, ctx, lora=None):
    extra = ["--lora", lora] if lora else []
    out = json.loads(lmforge(exe, "perplexity", "-m", model, *extra, "-f", data, "-c", str(2 * ctx), "--json"))
    return out["ppl"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--model", required=True, help="base model (folder or file lmforge converts)")
    ap.add_argument("--data", required=True, help="training text")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--types", default="f16,q8_0,q4_0", help="base types, comma-separated")
    ap.add_argument("--ctx", type=int, default=32)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", default="3e-3")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=2)
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_loss_curve: needs matplotlib (apt-get install python3-matplotlib)")

    runs = []
    with tempfile.TemporaryDirectory(prefix="lmforge-loss-") as work:
        for t in a.types.split(","):
            base = os.path.join(work, "base-%s.gguf" % t)
            lmforge(a.lmforge, "convert", a.model, base, "--outtype", t)
            adapter = os.path.join(work, "adapter-%s.gguf" % t)
            summary = json.loads(lmforge(
                a.lmforge, "finetune", "-m", base, "--data", a.data, "-o", adapter, "--ctx", str(a.ctx),
                "--batch", str(a.batch), "--steps", str(a.steps), "--lr", a.lr, "--lora-rank", str(a.rank),
                "--seed", str(a.seed), "-t", str(a.threads), "--json"))
            before = fragment_perplexity(a.lmforge, base, a.data, a.ctx)
            after = fragment_perplexity(a.lmforge, base, a.data, a.ctx, adapter)
            runs.append((t, summary["loss"], before, after, summary["tokens_per_s"]))
            print("%-5s base: loss %.3f -> %.3f over %d steps, fragment perplexity %.2f -> %.2f, %.0f tokens/s"
                  % (t, summary["loss"][0], summary["loss"][-1], len(summary["loss"]), before, after,
                     summary["tokens_per_s"]))

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=100)
    for t, losses, before, after, _ in runs:
        ax.plot(range(1, len(losses) + 1), losses, linewidth=1.4,
                label="%s base (perplexity %.0f -> %.1f)" % (t.upper(), before, after))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean cross-entropy, nats)")
    ax.set_title("lmforge finetune: LoRA r=%d on %s, ctx %d, batch %d, lr %s"
                 % (a.rank, os.path.basename(a.data), a.ctx, a.batch, a.lr), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    tmp = a.output + ".tmp"
    fig.savefig(tmp, format="png", metadata={"Software": None})
    os.replace(tmp, a.output)
    print("wrote %s" % a.output)


if __name__ == "__main__":
    main()
