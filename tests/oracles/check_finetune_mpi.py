#!/usr/bin/python3
"""`lmforge finetune` under mpirun: 2 ranks with --batch b train the adapter 1 process trains with --batch 2b.

On the committed demo model (converted to GGUF f32 once) and a fragment of 9 windows of 32
tokens, short LoRA runs (rank 4, every target, cosine schedule with warmup, weight decay) that
wrap past an epoch:
1. file order: `mpirun -np 2 lmforge finetune --batch 2 -t 1` against `lmforge finetune
   --batch 4 -t 1`: the losses of every step within 1e-5 relative; every adapter tensor within
   5e-4 relative in L2 norm (|a - b| / |a|), and no element further than 1e-2 of the tensor's
   largest magnitude. The only difference is the order of the float additions that sum the two
   ranks' gradients, but AdamW divides each gradient by its own running magnitude: where the
   gradient of one element nearly cancels, a rounding difference moves that element by a good
   part of lr, and 8 steps compound it (seen: after 8 steps 0.01-0.6 % of the elements differ
   by more than 1e-5 of their tensor's largest magnitude, the worst by 9e-5 to 1.6e-3; L2 3e-6
   to 1e-4), so single elements get the loose bound and whole tensors a tighter one;
2. the same shuffled (each epoch's order from --seed), and with --grad-accum 2 (--batch 1 on
   each rank against --batch 2);
3. resume under MPI: a 2-rank run with a checkpoint every step, stopped by SIGUSR1 to mpirun
   (which passes it to the ranks) after its first checkpoint, exits 130 with a checkpoint;
   `mpirun ... --resume` completes it to the uninterrupted 2-rank run's adapter byte for byte;
   the same checkpoint resumed by one process with --batch 4 ends within the tolerance above;
4. one rank that fails (a data file the other rank does not have) ends both with status 1
   instead of leaving the other waiting.

Without mpirun, or with an lmforge built without MPI, the check says so and is skipped (exit 77).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, read_safetensors, run, workdir_for  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "models", "demo")
SKIP = 77
LOSS_RTOL = 1e-5
WEIGHT_L2_RTOL = 5e-4
WEIGHT_MAX_RTOL = 1e-2

TEXT = """The ferry left the harbour at seven every morning, rain or shine, and the captain liked to
say that in twenty years it had never once been late. The passengers knew better. In January the
ice on the ramp held it back, in July the tourists with their bicycles, and on market days the
farmer from the far side of the island, who drove his van aboard as if the ferry had waited for
him alone, which it had. The crossing took forty minutes. People read, or slept, or stood at the
rail to watch the gulls follow the wake for the bread the children threw. The cook sold coffee
and cinnamon buns from a hatch beside the stairs and knew every regular by the order they gave.
When the new bridge opened the ferry kept running for a year, half empty, because the old people
would not drive across a thing that high above the water. Then it stopped, and the captain bought
a small boat of his own and took tourists out to see the seals, and told them, every time, that
in twenty years the ferry had never once been late.
Nobody on the island believed him, and nobody ever said so either.
"""


def mpirun_cmd(args, ranks):
    # As root Open MPI wants --allow-run-as-root; on a small machine --oversubscribe lets two
    # ranks share cores; --bind-to none leaves each rank's threads free to move.
    cmd = [args.mpirun, "-np", str(ranks), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def finetune_cmd(args, base, data, out, batch, extra=()):
    return [args.lmforge, "finetune", "-m", base, "--data", data, "-o", out, "--peft", out + ".peft",
            "--lora-rank", "4", "--lora-alpha", "8", "--ctx", "32", "--batch", str(batch), "--steps", "8",
            "--lr", "5e-3", "--warmup", "2", "--lr-schedule", "cosine", "--weight-decay", "0.01",
            "--seed", "11", "-t", "1", "--json"] + list(extra)


def summary(r):
    return json.loads(r.stdout.decode())


def tensors(out):
    t, _ = read_safetensors(os.path.join(out + ".peft", "adapter_model.safetensors"))
    return t


def compare(name, one, many):
    """One process's run against the ranks': losses and every adapter tensor within tolerance."""
    la, lb = one["loss"], many["loss"]
    check(one["steps"] == many["steps"] and len(la) == len(lb),
          "%s: %s steps alone, %s under mpirun" % (name, one["steps"], many["steps"]))
    worst_loss = 0.0
    for s, (a, b) in enumerate(zip(la, lb)):
        check(abs(a - b) <= LOSS_RTOL * abs(a),
              "%s: the loss of step %d is %.9g alone, %.9g under mpirun" % (name, s + 1, a, b))
        worst_loss = max(worst_loss, abs(a - b) / abs(a))
    ta, tb = tensors(one["out"]), tensors(many["out"])
    check(sorted(ta) == sorted(tb), "%s: the adapters hold other tensors" % name)
    worst_l2 = worst_max = 0.0
    moved = False
    for k in ta:
        a, b = ta[k].double(), tb[k].double()
        scale = max(float(a.abs().max()), 1e-30)
        l2 = float((a - b).norm()) / max(float(a.norm()), 1e-30)
        diff = float((a - b).abs().max())
        check(l2 <= WEIGHT_L2_RTOL, "%s: %s differs by %.3g relative in L2 norm" % (name, k, l2))
        check(diff <= WEIGHT_MAX_RTOL * scale,
              "%s: an element of %s differs by %.3g (largest magnitude %.3g)" % (name, k, diff, scale))
        worst_l2, worst_max = max(worst_l2, l2), max(worst_max, diff / scale)
        moved = moved or "lora_B" in k and scale > 1e-20
    check(moved, "%s: training moved no lora_B tensor off zero" % name)
    print("%s: %d losses within %.1e relative (last %.6f / %.6f); %d tensors, worst L2 difference %.2e, worst"
          " element %.2e of the largest magnitude" % (name, len(la), worst_loss, la[-1], lb[-1], len(ta), worst_l2,
                                                     worst_max), flush=True)


def train_pair(args, work, name, base, data, batch, extra=()):
    """The same run alone with --batch 2*batch and on 2 ranks with --batch batch."""
    one_out = os.path.join(work, name + "-1.gguf")
    many_out = os.path.join(work, name + "-2.gguf")
    one = summary(run(finetune_cmd(args, base, data, one_out, 2 * batch, extra), timeout=600))
    many = summary(run(mpirun_cmd(args, 2) + finetune_cmd(args, base, data, many_out, batch, extra), timeout=600))
    one["out"], many["out"] = one_out, many_out
    compare(name, one, many)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_resume(args, work, base, data):
    ckpt = ["--checkpoint-every", "1"]
    ref_out = os.path.join(work, "resume-ref.gguf")
    ref_dir = os.path.join(work, "ck-ref")
    shutil.rmtree(ref_dir, ignore_errors=True)
    ref = summary(run(mpirun_cmd(args, 2) + finetune_cmd(args, base, data, ref_out, 2,
                                                         ckpt + ["--checkpoint-dir", ref_dir]), timeout=600))

    ckdir = os.path.join(work, "ck-stop")
    shutil.rmtree(ckdir, ignore_errors=True)
    out = os.path.join(work, "resumed.gguf")
    for old in (out, os.path.join(ckdir, "checkpoint.gguf")):
        if os.path.exists(old):
            os.remove(old)
    p = subprocess.Popen(mpirun_cmd(args, 2) + finetune_cmd(args, base, data, out, 2, ckpt + ["--checkpoint-dir", ckdir]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline and \
            not os.path.exists(os.path.join(ckdir, "checkpoint.gguf")):
        time.sleep(0.005)
    if p.poll() is None:
        p.send_signal(signal.SIGUSR1)
    _, err = p.communicate(timeout=300)
    check(p.returncode == 130, "mpirun after SIGUSR1: exit status %d, not 130\n%s" % (p.returncode, err.decode()[-3000:]))
    check(not os.path.exists(out), "an interrupted run wrote the adapter")
    stopped_at = checkpoint_step(args, ckdir)
    check(1 <= stopped_at < 8, "the stopped run's checkpoint is at step %d" % stopped_at)
    # The same checkpoint, resumed by one process with the global batch (a copy: it moves on).
    one_dir = os.path.join(work, "ck-stop-one")
    shutil.rmtree(one_dir, ignore_errors=True)
    shutil.copytree(ckdir, one_dir)
    resumed = summary(run(mpirun_cmd(args, 2) + finetune_cmd(args, base, data, out, 2,
                                                             ckpt + ["--checkpoint-dir", ckdir, "--resume"]),
                          timeout=600))
    check(read(out) == read(ref_out), "mpirun --resume wrote another adapter than the uninterrupted 2-rank run")
    check(resumed["loss"] == ref["loss"], "mpirun --resume reports other losses than the uninterrupted run")
    print("resume under mpirun: stopped by SIGUSR1 after step %d (status 130), resumed to the same adapter bytes"
          % stopped_at, flush=True)
    one_out = os.path.join(work, "resumed-alone.gguf")
    one = summary(run(finetune_cmd(args, base, data, one_out, 4, ckpt + ["--checkpoint-dir", one_dir, "--resume"]),
                      timeout=600))
    one["out"], ref["out"] = one_out, ref_out
    compare("2-rank checkpoint resumed by one process", one, ref)


def checkpoint_step(args, ckdir):
    """The step of the checkpoint in `ckdir`, as lmforge inspect reads its metadata."""
    r = run([args.lmforge, "inspect", os.path.join(ckdir, "checkpoint.gguf"), "--json"])
    meta = json.loads(r.stdout)["metadata"]
    return int(meta["lmforge.checkpoint.step"]["value"])


def bad_rank(args, work, base, data):
    """Rank 1 cannot read its data file: both ranks end, status 1, within the timeout."""
    missing = os.path.join(work, "only-on-rank-0.txt")
    script = os.path.join(work, "rank1_missing_data.sh")
    with open(script, "w") as f:
        # Rank 1 reads a file that does not exist; rank 0 the real one.
        f.write('#!/bin/sh\nif [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=%s; else d=%s; fi\n'
                'exec %s finetune -m %s --data "$d" -o %s --ctx 32 --batch 2 --steps 2 -t 1 --json\n'
                % (missing, data, args.lmforge, base, os.path.join(work, "never.gguf")))
    os.chmod(script, 0o755)
    start = time.monotonic()
    r = run(mpirun_cmd(args, 2) + [script], timeout=120, check_rc=False)
    err = r.stderr.decode(errors="replace")
    check(r.returncode != 0, "a rank without its data file: mpirun exited 0")
    check("rank 1" in err and "only-on-rank-0.txt" in err,
          "the failing rank's error names neither the rank nor the file:\n" + err[-2000:])
    print("a failing rank ends the run: mpirun status %d after %.1f s" % (r.returncode, time.monotonic() - start),
          flush=True)


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEMO)
    ap.add_argument("--mpirun", default="", help="mpirun of the MPI lmforge was built with (empty: none)")
    args = ap.parse_args()
    if not args.mpirun or shutil.which(args.mpirun) is None:
        print("check_finetune_mpi: SKIPPED: no mpirun (install openmpi-bin and libopenmpi-dev, then reconfigure)",
              flush=True)
        sys.exit(SKIP)
    work = workdir_for(args, "finetune_mpi")
    base = os.path.join(work, "demo.f32.gguf")
    run([args.lmforge, "convert", args.model, base, "--outtype", "f32", "-q", "--force"], timeout=300)
    data = os.path.join(work, "fragment.txt")
    with open(data, "w") as f:
        f.write(TEXT)

    train_pair(args, work, "file-order", base, data, 2, ["--no-shuffle"])
    train_pair(args, work, "shuffled", base, data, 2)
    train_pair(args, work, "grad-accum", base, data, 1, ["--grad-accum", "2"])
    check_resume(args, work, base, data)
    bad_rank(args, work, base, data)


if __name__ == "__main__":
    main_wrapper("check_finetune_mpi", main)
