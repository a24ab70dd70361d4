#!/usr/bin/python3
"""`lmforge finetune` resumes exactly: kill -9 at random moments, then --resume, gives the same adapter.

On the committed demo model (converted to GGUF once), a short LoRA run with a checkpoint after
every step:
1. the reference: one uninterrupted run (-t 2, --json); another uninterrupted run with -t 1 and
   one with -t 3 write byte-identical adapters;
2. the same run started again and again, each process killed with SIGKILL at a random moment
   (delays drawn from the reference's own duration, some after the model has loaded, and some
   the moment a checkpoint's temporary file appears, i.e. inside its write: seen by the
   temporary it leaves), each next one with
   --resume when a checkpoint exists and another -t, until one finishes: its adapter must be
   byte-identical to the reference's and its --json losses equal;
3. Ctrl-C (SIGINT) after the third step line: exit status 130, a checkpoint at that step, and
   --resume completes to the same bytes;
4. --resume with another data file, another base model or another --lr is refused with one
   line naming what differs; --resume without a checkpoint is an error.
"""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, run, workdir_for  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "models", "demo")
STEPS = 14

# A fragment the demo model has not seen, long enough for several windows of 32 tokens.
TEXT = """The lighthouse keeper wrote in his log every evening at six. He noted the wind, the colour
of the sea, the ships that passed and the birds that rested on the rail of the gallery. In
winter the entries grew short: fog, no ships, the lamp cleaned twice. In summer they filled the
page, because the island had visitors who asked about the lens, the clockwork that turned it and
the keeper who had lived there for thirty years. He answered every question the same way,
patiently, as if no one had asked it before. When the light was automated the log stopped, but
the keeper kept writing, now about the garden he planted behind the tower, the potatoes that
failed and the beans that did not, the neighbour's goat that ate the lettuce, and the letters
his daughter sent from the city where the lights never went out at all.
"""


def finetune_cmd(args, base, data, out, ckdir, threads, extra=(), lr="5e-3"):
    cmd = [args.lmforge, "finetune", "-m", base, "--data", data, "-o", out, "--lora-rank", "4",
           "--lora-alpha", "8", "--ctx", "32", "--batch", "2", "--steps", str(STEPS), "--lr", lr,
           "--warmup", "2", "--lr-schedule", "cosine", "--weight-decay", "0.01", "--seed", "7",
           "-t", str(threads), "--json"]
    if ckdir:
        cmd += ["--checkpoint-dir", ckdir, "--checkpoint-every", "1"]
        if os.path.exists(os.path.join(ckdir, "checkpoint.gguf")):
            cmd.append("--resume")
    return cmd + list(extra)


def kill_when_writing(p, ckdir, deadline):
    """SIGKILL `p` as soon as a checkpoint temporary exists in `ckdir` (polled every ~0.2 ms,
    bounded by `deadline`); False when it ended or the deadline passed first."""
    pattern = os.path.join(ckdir, "checkpoint.gguf.lmforge-tmp-*")
    while time.monotonic() < deadline and p.poll() is None:
        if glob.glob(pattern):
            p.kill()
            p.wait()
            return True
        time.sleep(0.0002)
    if p.poll() is None:
        p.kill()
        p.wait()
        return True
    return False


def read(path):
    with open(path, "rb") as f:
        return f.read()


def summary(r):
    return json.loads(r.stdout.decode())


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEMO)
    ap.add_argument("--seed", type=int, default=1234, help="seed of the kill delays")
    args = ap.parse_args()
    work = workdir_for(args, "finetune_resume")
    rng = random.Random(args.seed)

    base = os.path.join(work, "demo.f16.gguf")
    other_base = os.path.join(work, "demo.f32.gguf")
    run([args.lmforge, "convert", args.model, base, "--outtype", "f16", "-q", "--force"], timeout=300)
    run([args.lmforge, "convert", args.model, other_base, "--outtype", "f32", "-q", "--force"], timeout=300)
    data = os.path.join(work, "fragment.txt")
    with open(data, "w") as f:
        f.write(TEXT)

    # 1. References (outputs of an earlier run of this check removed first).
    for old in glob.glob(os.path.join(work, "*.gguf")):
        if not old.startswith(os.path.join(work, "demo.")):
            os.remove(old)
    ref = os.path.join(work, "ref.gguf")
    start = time.monotonic()
    ref_summary = summary(run(finetune_cmd(args, base, data, ref, None, 2), timeout=600))
    duration = time.monotonic() - start
    check(ref_summary["steps"] == STEPS and len(ref_summary["loss"]) == STEPS,
          "the reference's --json summary has %s steps and %d losses" % (ref_summary["steps"], len(ref_summary["loss"])))
    ref_bytes = read(ref)
    out = os.path.join(work, "ref-t1.gguf")
    run(finetune_cmd(args, base, data, out, None, 1), timeout=600)
    check(read(out) == ref_bytes, "an uninterrupted run with -t 1 wrote another adapter than -t 2")
    # -t 3 without --json: its step lines on stderr tell when training starts (the model loaded),
    # so that half of the kills below can aim at the steps and their checkpoint writes.
    out = os.path.join(work, "ref-t3.gguf")
    start = time.monotonic()
    p = subprocess.Popen([c for c in finetune_cmd(args, base, data, out, None, 3) if c != "--json"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_step = None
    for line in p.stderr:
        if first_step is None and line.startswith(b"step "):
            first_step = time.monotonic() - start
    p.wait(timeout=600)
    check(p.returncode == 0 and first_step is not None, "the -t 3 run failed or printed no step lines")
    check(read(out) == ref_bytes, "an uninterrupted run with -t 3 wrote another adapter than -t 2")
    print("reference: %d steps in %.2f s (the first after %.2f s), final loss %.4f" %
          (STEPS, duration, first_step, ref_summary["loss"][-1]), flush=True)

    # 2. kill -9 at random moments, --resume until done.
    ckdir = os.path.join(work, "ck-kill")
    out = os.path.join(work, "resumed.gguf")
    shutil.rmtree(ckdir, ignore_errors=True)
    if os.path.exists(out):
        os.remove(out)
    kills = mid_write = runs = chains = 0
    final = None
    while runs < 150:
        runs += 1
        threads = 1 + runs % 3
        p = subprocess.Popen(finetune_cmd(args, base, data, out, ckdir, threads),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill runs part way until enough kills (one inside a checkpoint write among them)
        # were seen; a chain of runs that reaches the end meanwhile is checked and started anew.
        keep_killing = (kills < 12 or mid_write == 0) and runs < 140
        if keep_killing:
            # Three kinds of moment: any (loading included), any after the model has loaded,
            # and right when a checkpoint's temporary file appears (inside its write).
            mode = runs % 3
            if mode == 2:
                killed = kill_when_writing(p, ckdir, time.monotonic() + duration)
            else:
                low = 0.9 * first_step if mode == 1 else 0
                try:
                    p.wait(timeout=rng.uniform(low, duration))
                    killed = False
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    killed = True
            if killed:
                p.stdout.close()
                p.stderr.close()
                kills += 1
                if glob.glob(os.path.join(ckdir, "checkpoint.gguf.lmforge-tmp-*")):
                    mid_write += 1
                continue
        stdout, stderr = p.communicate(timeout=600)
        check(p.returncode == 0, "a resumed run failed with status %s:\n%s" % (p.returncode, stderr.decode()[-3000:]))
        final = json.loads(stdout.decode())
        chains += 1
        check(read(out) == ref_bytes, "the adapter after %d kills and resumes differs from the uninterrupted run's" % kills)
        check(final["loss"] == ref_summary["loss"], "the resumed run's losses differ from the reference's")
        if not keep_killing:
            break
        shutil.rmtree(ckdir)
        os.remove(out)
    print("kill -9: %d kills (%d inside a checkpoint write) in %d runs, %d chains resumed to the end" %
          (kills, mid_write, runs, chains), flush=True)
    check(final is not None, "no run finished in %d tries" % runs)
    check(kills >= 5, "only %d runs were killed part way" % kills)
    check(mid_write >= 1, "no kill landed inside a checkpoint write in %d runs" % runs)

    # 3. Ctrl-C after the third step: a checkpoint, status 130, and --resume to the same bytes.
    ckint = os.path.join(work, "ck-int")
    out_int = os.path.join(work, "interrupted.gguf")
    shutil.rmtree(ckint, ignore_errors=True)
    cmd = [c for c in finetune_cmd(args, base, data, out_int, ckint, 2) if c != "--json"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = 0
    for line in p.stderr:
        if line.startswith(b"step "):
            seen += 1
            if seen == 3:
                p.send_signal(signal.SIGINT)
                break
    p.communicate(timeout=600)
    check(p.returncode == 130, "Ctrl-C gave exit status %s, expected 130" % p.returncode)
    check(not os.path.exists(out_int), "an interrupted run wrote its adapter")
    run(finetune_cmd(args, base, data, out_int, ckint, 1), timeout=600)
    check(read(out_int) == ref_bytes, "the adapter after Ctrl-C and --resume differs from the uninterrupted run's")

    # 4. Refusals: the finished checkpoint of 2 with another data file, base, or --lr.
    other_data = os.path.join(work, "other.txt")
    with open(other_data, "w") as f:
        f.write(TEXT + "One more line.\n")
    refusals = [
        ("another data file", finetune_cmd(args, base, other_data, out, ckdir, 1)),
        ("another base model", finetune_cmd(args, other_base, data, out, ckdir, 1)),
        ("other options: lr", finetune_cmd(args, base, data, out, ckdir, 1, lr="1e-3")),
    ]
    for what, cmd in refusals:
        check("--resume" in cmd, "internal: the refusal commands must resume")
        r = run(cmd, timeout=600, check_rc=False)
        err = r.stderr.decode()
        check(r.returncode != 0, "--resume with %s was accepted" % what)
        check(what in err and len(err.strip().splitlines()) == 1,
              "--resume with %s: expected one line naming it, got:\n%s" % (what, err))
    empty = os.path.join(work, "ck-empty")
    shutil.rmtree(empty, ignore_errors=True)
    os.makedirs(empty)
    r = run(finetune_cmd(args, base, data, out, None, 1, ["--checkpoint-dir", empty, "--resume"]), timeout=600,
            check_rc=False)
    check(r.returncode != 0, "--resume without a checkpoint was accepted")


if __name__ == "__main__":
    main_wrapper("check_finetune_resume", main)
