#!/usr/bin/python3
"""`lmforge finetune` end to end (issue 13) on the demo model (models/demo, converted to GGUF F32):

1. learning: on a text fragment the demo model never saw (examples/lighthouse.txt), a short run lowers
   the fragment's perplexity by at least half. The perplexity is computed by PyTorch (the LoRA
   LLaMA of check_train_step.py, float32) from the adapter file as @huggingface/gguf reads it,
   so this also checks the file: llama.cpp's adapter keys, [in, r] / [r, out] shapes, F32, and
   B rows of q/k in the GGUF's rotary order;
2. --json prints {"steps", "loss", "tokens_per_s"} and nothing else on stdout; --init-adapter
   from the adapter and from its --peft export give the same bytes;
3. Ctrl-C during a run (-t 1) writes a checkpoint and exits 130; --resume with -t 2 finishes
   it, and the adapter's bytes equal those of an uninterrupted run with -t 3;
4. bad input (empty and too-short data, rank larger than a matrix, unknown targets, conflicting
   --init-adapter flags, --resume without a checkpoint, --steps with --epochs, a resume with
   other options) fails with one clear error line and no crash.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CheckFailed, base_args, check, main_wrapper, run, run_node, sentencepiece_ids, workdir_for  # noqa: E402
from check_forward import convert  # noqa: E402
from check_train_step import LoraLlama  # noqa: E402

# Text the Brown-corpus demo model has never seen (written for this project; README's fine-tuning
# walk-through and scripts/demo.sh use the same file).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "lighthouse.txt"),
          encoding="utf-8") as _f:
    FRAGMENT = _f.read()


def adapter_tensors(path):
    parsed = run_node("gguf_parse.mjs", [path])
    meta = {k: v["value"] for k, v in parsed["metadata"].items()}
    with open(path, "rb") as f:
        data = f.read()
    out = {}
    for t in parsed["tensors"]:
        check(t["dtype"] == "F32", "%s is %s, not F32" % (t["name"], t["dtype"]))
        n = int(np.prod(t["ne"]))
        start = parsed["tensor_data_offset"] + t["offset"]
        out[t["name"]] = (t["ne"], np.frombuffer(data[start:start + 4 * n], "<f4").copy())
    return meta, out


def windows_of(ids, ctx):
    return [ids[i * ctx:i * ctx + ctx + 1] for i in range((len(ids) - 1) // ctx)]


def check_learning(args, work, gguf):
    frag = os.path.join(work, "fragment.txt")
    with open(frag, "w") as f:
        f.write(FRAGMENT)
    out = os.path.join(work, "learned.gguf")
    ctx, rank, alpha = 32, 8, 16.0
    r = run([args.lmforge, "finetune", "-m", gguf, "--data", frag, "-o", out, "--ctx", str(ctx), "--batch", "2",
             "--steps", "30", "--lr", "3e-3", "--lora-rank", str(rank), "--lora-alpha", str(alpha), "--seed", "3",
             "-t", "2", "--json", "--peft", os.path.join(work, "learned-peft")], timeout=600)
    summary = json.loads(r.stdout)
    check(sorted(summary) == ["loss", "steps", "tokens_per_s"], "--json printed %s" % sorted(summary))
    check(summary["steps"] == 30 and len(summary["loss"]) == 30, "--json: %d steps, %d losses"
          % (summary["steps"], len(summary["loss"])))
    check(summary["tokens_per_s"] > 0, "--json: tokens_per_s %r" % summary["tokens_per_s"])

    meta, tensors = adapter_tensors(out)
    check(meta.get("general.type") == "adapter" and meta.get("adapter.type") == "lora"
          and meta.get("general.architecture") == "llama", "adapter metadata: %s" % {k: meta.get(k) for k in
          ("general.type", "adapter.type", "general.architecture")})
    check(abs(meta.get("adapter.lora.alpha", -1) - alpha) < 1e-6, "adapter.lora.alpha %r" % meta.get("adapter.lora.alpha"))
    check(len(tensors) == 4 * 7 * 2, "%d adapter tensors, want 56" % len(tensors))
    a_ne, _ = tensors["blk.0.attn_q.weight.lora_a"]
    b_ne, _ = tensors["blk.0.attn_q.weight.lora_b"]
    check(a_ne == [256, rank] and b_ne == [rank, 256], "lora_a ne %s, lora_b ne %s" % (a_ne, b_ne))

    ids = sentencepiece_ids(os.path.join(args.demo, "tokenizer.model"), [FRAGMENT], add_bos=True)[0]
    wins = windows_of(ids, ctx)
    model = LoraLlama(args.demo, torch.float32)
    with torch.no_grad():
        before = math_exp(model.loss(wins).item())
        model.set_adapter({k: v for k, (_, v) in tensors.items()}, rank, alpha)
        after = math_exp(model.loss(wins).item())
    print("learning: fragment perplexity %.2f before, %.2f after 30 steps (losses %.3f -> %.3f)"
          % (before, after, summary["loss"][0], summary["loss"][-1]))
    check(after <= 0.5 * before, "perplexity only went from %.2f to %.2f" % (before, after))
    return frag, out


def math_exp(x):
    return float(np.exp(x))


def check_interrupt_and_resume(args, work, gguf, frag):
    common = ["-m", gguf, "--data", frag, "--ctx", "32", "--batch", "2", "--steps", "8", "--lr", "1e-3",
              "--seed", "9", "--lr-schedule", "cosine", "--warmup", "2"]
    whole = os.path.join(work, "whole.gguf")
    shutil.rmtree(os.path.join(work, "ck-whole"), ignore_errors=True)
    # --init-adapter: the GGUF adapter and its PEFT export start the same run (same bytes out).
    outs = []
    for start in ("learned.gguf", "learned-peft"):
        outs.append(os.path.join(work, "from-%s.gguf" % start.split(".")[0]))
        run([args.lmforge, "finetune", "-m", gguf, "--data", frag, "--ctx", "32", "--steps", "2", "-t", "2",
             "--init-adapter", os.path.join(work, start), "-o", outs[-1]], timeout=600)
    with open(outs[0], "rb") as f1, open(outs[1], "rb") as f2:
        check(f1.read() == f2.read(), "--init-adapter: the GGUF adapter and its --peft export train differently")
    print("init-adapter: the adapter and its PEFT export (--peft) start identical runs")
    run([args.lmforge, "finetune"] + common + ["-o", whole, "-t", "3", "--checkpoint-dir",
        os.path.join(work, "ck-whole")], timeout=600)
    ck = os.path.join(work, "ck-cut")
    shutil.rmtree(ck, ignore_errors=True)
    cut = os.path.join(work, "cut.gguf")
    if os.path.exists(cut):
        os.remove(cut)
    p = subprocess.Popen([args.lmforge, "finetune"] + common + ["-o", cut, "-t", "1", "--checkpoint-dir", ck,
                          "--checkpoint-every", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    seen = b""
    while time.time() < deadline:  # bounded: the run has 8 steps
        line = p.stderr.readline()
        if not line:
            break
        seen += line
        if line.startswith(b"step 3/8"):
            p.send_signal(signal.SIGINT)
            break
    rest, err = p.communicate(timeout=300)
    check(p.returncode == 130, "Ctrl-C: exit status %d, want 130\n%s" % (p.returncode, (seen + err).decode()[-2000:]))
    check(not os.path.exists(cut), "Ctrl-C: the adapter was written although the run did not finish")
    run([args.lmforge, "finetune"] + common + ["-o", cut, "-t", "2", "--checkpoint-dir", ck, "--resume"], timeout=600)
    with open(whole, "rb") as f1, open(cut, "rb") as f2:
        check(f1.read() == f2.read(), "the adapter after Ctrl-C and --resume (-t 1, then -t 2) differs from an "
              "uninterrupted run with -t 3")
    print("interrupt: Ctrl-C at step 3 (-t 1), resumed with -t 2: adapter bytes equal the uninterrupted -t 3 run")
    # A resume with other options is refused.
    r = run([args.lmforge, "finetune"] + common[:-4] + ["-o", cut, "--checkpoint-dir", ck, "--resume",
            "--lr-schedule", "constant"], check_rc=False)
    expect_clean_failure(r, "other options", "resume with another --lr-schedule")


def expect_clean_failure(r, needle, what):
    err = r.stderr.decode(errors="replace")
    check(r.returncode in (1, 2), "%s: exit status %d (want 1 or 2)\n%s" % (what, r.returncode, err[-2000:]))
    check("error" in err and needle in err, "%s: stderr does not say %r:\n%s" % (what, needle, err[-2000:]))
    check(len(err.strip().splitlines()) <= 2, "%s: more than one error line:\n%s" % (what, err[-2000:]))


def check_bad_input(args, work, gguf, frag, adapter):
    empty = os.path.join(work, "empty.txt")
    short = os.path.join(work, "short.txt")
    open(empty, "w").close()
    with open(short, "w") as f:
        f.write("Too short.")
    out = os.path.join(work, "bad.gguf")
    empty_dir = os.path.join(work, "no-checkpoint")
    shutil.rmtree(empty_dir, ignore_errors=True)
    os.makedirs(empty_dir)
    base = [args.lmforge, "finetune", "-m", gguf, "-o", out, "--ctx", "32", "--steps", "1", "-t", "1"]
    cases = [
        (["--data", empty], "empty", "empty data"),
        (["--data", short], "do not fill", "data shorter than one window"),
        (["--data", frag, "--lora-rank", "300"], "larger than", "rank larger than the matrix"),
        (["--data", frag, "--lora-targets", "q,mlp"], "mlp", "unknown target"),
        (["--data", frag, "--init-adapter", adapter, "--lora-rank", "4"], "--init-adapter", "conflicting flags"),
        (["--data", frag, "--checkpoint-dir", empty_dir, "--resume"], "no checkpoint", "--resume without one"),
        (["--data", frag, "--epochs", "2"], "not both", "--steps with --epochs"),
    ]
    for extra, needle, what in cases:
        r = run(base + extra, check_rc=False)
        expect_clean_failure(r, needle, what)
    check(not os.path.exists(out), "a failed run wrote %s" % out)
    print("bad input: %d cases refused with one clear line" % len(cases))


def main():
    p = base_args(__doc__)
    p.add_argument("--demo", required=True, help="models/demo")
    args = p.parse_args()
    work = workdir_for(args, "finetune")
    gguf = os.path.join(work, "demo.gguf")
    convert(args.lmforge, args.demo, gguf, "f32")
    frag, adapter = check_learning(args, work, gguf)
    check_interrupt_and_resume(args, work, gguf, frag)
    check_bad_input(args, work, gguf, frag, adapter)


if __name__ == "__main__":
    main_wrapper("finetune", main)
