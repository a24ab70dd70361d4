#!/usr/bin/python3
"""Data-parallel `lmforge finetune`: one process with T threads against R ranks (mpirun) with
T / R threads each, the same global batch, ctx, rank and steps (issue 13 item 6).

    mpi_finetune_bench.py --lmforge build/lmforge --gguf MODEL.gguf --data TEXT \\
                          [--ranks 2] [--threads 2] [--ctx 128] [--batch 4] [--steps 6] [--repeats 3]

--batch is the global batch (a multiple of --ranks): the one process runs --batch B -t T, the
ranks --batch B/R -t T/R each. The two alternate, --repeats times each; the report gives each
run's training tokens/s as finetune's --json reports it (every rank's tokens / training time,
loading excluded) and the medians and their ratio. Quote the load average (printed before and
after): the machine is shared.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile


def tokens_per_s(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-3000:]))
    return json.loads(r.stdout)["tokens_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mpirun", default=shutil.which("mpirun") or "mpirun")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.batch % a.ranks or a.threads % a.ranks:
        sys.exit("--batch and --threads must be multiples of --ranks")
    out = os.path.join(tempfile.mkdtemp(prefix="mpi_finetune_bench-"), "adapter.gguf")

    def finetune(batch, threads):
        return [a.lmforge, "finetune", "-m", a.gguf, "--data", a.data, "-o", out, "--ctx", str(a.ctx),
                "--batch", str(batch), "--lora-rank", str(a.rank), "--steps", str(a.steps), "-t", str(threads),
                "--json"]

    mpirun = [a.mpirun, "-np", str(a.ranks), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        mpirun.append("--allow-run-as-root")
    one_cmd = finetune(a.batch, a.threads)
    ranks_cmd = mpirun + finetune(a.batch // a.ranks, a.threads // a.ranks)
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()), flush=True)
    one, many = [], []
    for i in range(a.repeats):
        one.append(tokens_per_s(one_cmd))
        many.append(tokens_per_s(ranks_cmd))
        print("round %d: 1 process x %d threads %.1f tokens/s, %d ranks x %d threads %.1f tokens/s"
              % (i + 1, a.threads, one[-1], a.ranks, a.threads // a.ranks, many[-1]), flush=True)
    m1, m2 = statistics.median(one), statistics.median(many)
    print("median: 1 x %d threads %.1f tokens/s, %d ranks x %d threads %.1f tokens/s, ratio %.2f"
          % (a.threads, m1, a.ranks, a.threads // a.ranks, m2, m2 / m1))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()), flush=True)


if __name__ == "__main__":
    main()
