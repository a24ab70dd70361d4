#!/usr/bin/python3
"""`lmforge train` (issue 13, item 5: full training of a small llama) against PyTorch:

1. a few full-training steps from a given init (--init-model: a fixture model), windows in file
   order (--no-shuffle), against the same model written here in PyTorch (check_train_step's
   LlamaForCausalLM forward, every weight a leaf, tied embeddings one tensor) in float64 with
   torch.optim.AdamW (weight decay on matrices only, clip_grad_norm_ where the case clips, the
   same warmup + cosine-with-floor schedule): every step's loss within 1e-4 relative and every
   weight of the written Hugging Face folder within 1e-4 (norm-relative) of the reference's;
   the first loss within 1e-5 of float64;
2. resume: a run killed with SIGKILL after some checkpoints and resumed with another thread
   count writes the uninterrupted run's GGUF byte for byte, with the same losses;
3. the GGUF output loads in `lmforge perplexity` and llama.cpp's llama-perplexity, same perplexity
   within 1e-3;
4. bad input: unknown / missing / contradictory config fields, a vocabulary size other than the
   tokenizer's, an --init-model of another shape, a bad --type: one clear line, no output;
5. README's recipe examples/demo-train.json has the demo model's shape, trains and runs.
Cases: the GQA fixture (6/2 heads, untied) and models/demo (4/2 heads, tied embeddings).
"""

import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, load_hf_config, load_hf_state_dict, main_wrapper, run, sentencepiece_ids, workdir_for  # noqa: E402
from check_train_step import LoraLlama, norm_rel_err  # noqa: E402

MODEL_KEYS = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "max_position_embeddings", "rope_theta", "rms_norm_eps", "tie_word_embeddings"]

TEXT = """The lighthouse keeper on Varrow Island logs the weather every four hours in a green ledger.
At dawn she writes the wind direction, the barometer reading and the height of the swell.
At noon she checks the lamp, cleans the lens with a soft cloth and winds the clockwork.
In the evening she lights the lamp, counts the ships that pass the northern reef and writes their names.
Supplies come from the mainland on the first Tuesday of each month: flour, lamp oil, coffee and letters.
"""


def write_config(path, folder, training, override=None):
    hf = load_hf_config(folder)
    cfg = {k: hf[k] for k in MODEL_KEYS}
    cfg["tokenizer"] = os.path.join(os.path.abspath(folder), "tokenizer.model")
    cfg["training"] = training
    cfg.update(override or {})
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def lr_at(step, t):
    """LrSchedule::at: linear warmup, then constant or cosine down to lr * min_lr."""
    lr, warm, total = t["lr"], t.get("warmup", 0), t["steps"]
    if step < warm:
        return lr * ((step + 1) / warm)
    if t.get("lr_schedule", "constant") != "cosine" or total <= warm:
        return lr
    p = min(1.0, (step - warm) / (total - warm))
    m = t.get("min_lr", 0.0)
    c = 0.5 * (1 + math.cos(math.pi * p))
    return lr * 0.5 * (1 + math.cos(math.pi * p)) if m == 0 else lr * (m + (1 - m) * c)


def reference(folder, tokens, t):
    """Float64 PyTorch: losses per step and the final weights (HF names)."""
    m = LoraLlama(folder, torch.float64)
    tied = "lm_head.weight" not in m.w
    for k in m.w:
        m.w[k].requires_grad_()
    m.head = m.w["model.embed_tokens.weight"] if tied else m.w["lm_head.weight"]
    decay = [p for p in m.w.values() if p.dim() >= 2]
    no_decay = [p for p in m.w.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t.get("weight_decay", 0.0)},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=t["lr"], betas=(0.9, 0.999), eps=1e-8)
    ctx, batch, acc = t["ctx"], t["batch"], t.get("grad_accum", 1)
    n = (len(tokens) - 1) // ctx
    wins = [tokens[i * ctx:i * ctx + ctx + 1] for i in range(n)]
    per_step, nxt, losses = batch * acc, 0, []
    for s in range(t["steps"]):
        if nxt + per_step > n - n % per_step or nxt + per_step > n:
            nxt = 0
        step_w = wins[nxt:nxt + per_step]
        nxt += per_step
        opt.zero_grad()
        total = 0.0
        for a in range(acc):
            loss = m.loss(step_w[a * batch:(a + 1) * batch]) / acc
            loss.backward()
            total += loss.item()
        if t.get("grad_clip", 0) > 0:
            torch.nn.utils.clip_grad_norm_(list(m.w.values()), t["grad_clip"])
        for g in opt.param_groups:
            g["lr"] = lr_at(s, t)
        opt.step()
        losses.append(total)
    return losses, {k: v.detach() for k, v in m.w.items()}


def check_against_torch(args, work, label, folder, t, text_path):
    cfg = write_config(os.path.join(work, label + ".json"), folder, t)
    out = os.path.join(work, label + "-out")
    shutil.rmtree(out, ignore_errors=True)
    r = run([args.lmforge, "train", "--config", cfg, "--data", text_path, "-o", out, "--init-model", folder,
             "--no-shuffle", "-t", "2", "--json"], timeout=600)
    ours = json.loads(r.stdout)
    tokens = sentencepiece_ids(os.path.join(folder, "tokenizer.model"), [open(text_path).read()], add_bos=True)[0]
    losses, want = reference(folder, tokens, t)
    check(len(ours["loss"]) == t["steps"], "%s: %d losses, want %d" % (label, len(ours["loss"]), t["steps"]))
    check(abs(ours["loss"][0] - losses[0]) <= 1e-5 * losses[0],
          "%s: first loss %.8f, float64 %.8f" % (label, ours["loss"][0], losses[0]))
    for s, (a, b) in enumerate(zip(ours["loss"], losses)):
        check(abs(a - b) <= 1e-4 * abs(b), "%s: step %d loss %.8f, torch float64 %.8f" % (label, s, a, b))
    got = load_hf_state_dict(out)
    init = load_hf_state_dict(folder)
    worst, worst_update, moved = 0.0, 0.0, 0.0
    for name, w in want.items():
        check(name in got, "%s: the output has no %s" % (label, name))
        e = norm_rel_err(got[name].numpy().reshape(-1), w.numpy().reshape(-1))
        check(e < 1e-4, "%s: %s differs from torch by %.2e (norm-relative)" % (label, name, e))
        upd_ref = (w - init[name].to(torch.float64)).numpy().reshape(-1)
        upd = (got[name].to(torch.float64) - init[name].to(torch.float64)).numpy().reshape(-1)
        worst, worst_update = max(worst, e), max(worst_update, norm_rel_err(upd, upd_ref))
        moved = max(moved, float(np.abs(upd_ref).max()))
    check(moved > 1e-4, "%s: the weights did not move" % label)
    print("%s: %d steps, losses %s match float64 torch; %d tensors within %.2e (their updates within %.2e)"
          % (label, t["steps"], ", ".join("%.5f" % x for x in ours["loss"]), len(want), worst, worst_update))


def check_resume(args, work, text_path):
    t = {"ctx": 32, "batch": 2, "steps": 16, "lr": 3e-3, "warmup": 2, "lr_schedule": "cosine", "min_lr": 0.1,
         "weight_decay": 0.1, "grad_clip": 1.0, "seed": 3}
    folder = os.path.join(args.fixtures, "hf", "gqa-safetensors-sharded")
    cfg = write_config(os.path.join(work, "resume.json"), folder, t)
    base = [args.lmforge, "train", "--config", cfg, "--data", text_path, "--json"]
    whole = os.path.join(work, "whole.gguf")
    ref = json.loads(run(base + ["-o", whole, "-t", "2"], timeout=600).stdout)
    ck, cut = os.path.join(work, "ck"), os.path.join(work, "cut.gguf")
    shutil.rmtree(ck, ignore_errors=True)
    if os.path.exists(cut):
        os.remove(cut)
    kills, resumed = 0, 0
    rng = random.Random(5)
    ckfile = os.path.join(ck, "checkpoint.gguf")
    for attempt in range(40):  # bounded: every attempt after the first checkpoint resumes from a later step
        cmd = base + ["-o", cut, "-t", str(1 + attempt % 3), "--checkpoint-dir", ck, "--checkpoint-every", "1"]
        if os.path.exists(ckfile):
            cmd.append("--resume")
            resumed += 1
        before = os.stat(ckfile).st_mtime_ns if os.path.exists(ckfile) else 0
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill once a new checkpoint has been written, a random moment later (possibly inside
        # the next checkpoint's write).
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline:
            if os.path.exists(ckfile) and os.stat(ckfile).st_mtime_ns != before:
                time.sleep(rng.uniform(0.0, 0.05))
                break
            time.sleep(0.002)
        if p.poll() is None and kills < 4:
            p.kill()
            p.communicate()
            kills += 1
            continue
        out, err = p.communicate(timeout=600)
        check(p.returncode == 0, "resume run failed:\n%s" % err.decode()[-2000:])
        break
    check(kills >= 2 and resumed >= 2, "the resume check killed %d runs and resumed %d (want 2 or more)"
          % (kills, resumed))
    with open(whole, "rb") as f1, open(cut, "rb") as f2:
        check(f1.read() == f2.read(), "the GGUF after %d kills and resumes differs from the uninterrupted run" % kills)
    check(json.loads(out)["loss"] == ref["loss"], "resumed losses differ")
    print("resume: %d SIGKILLs, %d resumes with other thread counts: GGUF bytes and losses equal the uninterrupted run"
          % (kills, resumed))
    long_text = os.path.join(work, "long.txt")
    with open(long_text, "w") as f:
        f.write(open(text_path).read() * 8)
    r = run([args.lmforge, "perplexity", "-m", whole, "-f", long_text, "-c", "32", "-t", "1", "--json"], timeout=300,
            check_rc=False)
    check(r.returncode == 0, "lmforge perplexity cannot read the trained GGUF:\n%s" % r.stderr.decode()[-2000:])
    ours = json.loads(r.stdout)["ppl"]
    tool = os.path.join(args.llama_tools, "llama-perplexity")
    check(os.access(tool, os.X_OK), "%s is missing: build it with scripts/build_llama_tools.sh" % tool)
    # llama.cpp's logger loses its last lines at exit on a loaded machine: the log-drain library
    # (llama_log_drain.cpp says why) gives it time to write them.
    r = subprocess.run([tool, "-m", whole, "-f", long_text, "-c", "32", "-t", "1"], capture_output=True, timeout=300,
                       env=dict(os.environ, LD_PRELOAD=os.path.abspath(args.log_drain)))
    text = (r.stdout + r.stderr).decode(errors="replace")
    check(r.returncode == 0 and "Final estimate: PPL = " in text, "llama-perplexity cannot read the trained GGUF:\n%s"
          % text[-2000:])
    theirs = float(text.split("Final estimate: PPL = ")[1].split()[0])
    check(abs(ours - theirs) <= 1e-3 * theirs, "perplexity of the trained GGUF: lmforge %.4f, llama.cpp %.4f"
          % (ours, theirs))
    print("the trained GGUF loads in lmforge and llama.cpp: perplexity %.4f and %.4f" % (ours, theirs))
    return cfg, folder


def expect_clean_failure(r, needle, what):
    err = r.stderr.decode(errors="replace")
    check(r.returncode in (1, 2), "%s: exit status %d (want 1 or 2)\n%s" % (what, r.returncode, err[-2000:]))
    check("error" in err and needle in err, "%s: stderr does not say %r:\n%s" % (what, needle, err[-2000:]))
    check(len(err.strip().splitlines()) <= 2, "%s: more than one error line:\n%s" % (what, err[-2000:]))


def check_bad_input(args, work, text_path, folder):
    t = {"ctx": 16, "batch": 1, "steps": 1}
    out = os.path.join(work, "bad.gguf")
    if os.path.exists(out):
        os.remove(out)
    hf = load_hf_config(folder)
    cases = [
        ({"colour": 1}, [], "unknown field", "an unknown field"),
        ({"training": dict(t, speed=3)}, [], "unknown training setting", "an unknown training setting"),
        ({"training": dict(t, epochs=2)}, [], "not both", "steps and epochs"),
        ({"vocab_size": hf["vocab_size"] + 1}, [], "tokenizer", "vocab size other than the tokenizer's"),
        ({"hidden_size": 100}, [], "multiple", "hidden size not divisible by the heads"),
        ({"head_dim": 7}, [], "head", "head_dim contradicting the sizes"),
        ({"num_hidden_layers": "two"}, [], "num_hidden_layers", "a string for a size"),
        ({"tokenizer": "nowhere.model"}, [], "nowhere", "a missing tokenizer"),
        ({}, ["--type", "q4_0"], "--type", "a bad --type"),
        ({"num_hidden_layers": hf["num_hidden_layers"] + 1}, ["--init-model", folder], "shape", "--init-model of another shape"),
    ]
    for override, extra, needle, what in cases:
        cfg = write_config(os.path.join(work, "bad.json"), folder, t, override)
        r = run([args.lmforge, "train", "--config", cfg, "--data", text_path, "-o", out] + extra, check_rc=False)
        expect_clean_failure(r, needle, what)
    cfg = write_config(os.path.join(work, "bad.json"), folder, t)
    with open(cfg) as f:
        j = json.load(f)
    del j["rms_norm_eps"]
    with open(cfg, "w") as f:
        json.dump(j, f)
    expect_clean_failure(run([args.lmforge, "train", "--config", cfg, "--data", text_path, "-o", out], check_rc=False),
                         "missing field", "a missing field")
    check(not os.path.exists(out), "a failed run wrote %s" % out)
    print("bad input: %d cases refused with one clear line" % (len(cases) + 1))


def check_example_config(args, work, text_path):
    """README's recipe, examples/demo-train.json (the demo model's shape, its tokenizer by a
    path relative to the config): two short steps run and give a GGUF lmforge runs."""
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "demo-train.json")
    out = os.path.join(work, "example.gguf")
    r = run([args.lmforge, "train", "--config", example, "--data", text_path, "-o", out, "--steps", "2", "--ctx", "16",
             "--batch", "2", "-t", "2", "--json"], timeout=600)
    summary = json.loads(r.stdout)
    check(summary["steps"] == 2 and all(math.isfinite(x) for x in summary["loss"]),
          "examples/demo-train.json: %s" % summary)
    with open(os.path.join(args.demo, "config.json")) as f:
        demo = json.load(f)
    with open(example) as f:
        cfg = json.load(f)
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "tie_word_embeddings"):
        check(cfg[key] == demo[key], "examples/demo-train.json %s %r, models/demo %r" % (key, cfg[key], demo[key]))
    run([args.lmforge, "run", "-m", out, "-p", "The", "-n", "4", "--temp", "0"], timeout=300)
    print("examples/demo-train.json: 2 steps, losses %s; the GGUF runs" % summary["loss"], flush=True)


def main():
    p = base_args(__doc__)
    p.add_argument("--demo", required=True, help="models/demo")
    p.add_argument("--llama-tools", default=os.environ.get("LMFORGE_LLAMA_TOOLS", ""),
                   help="folder of llama.cpp's tools (llama-perplexity)")
    p.add_argument("--log-drain", required=True, help="llama_log_drain.so, built from llama_log_drain.cpp")
    args = p.parse_args()
    work = workdir_for(args, "full_train")
    text_path = os.path.join(work, "text.txt")
    with open(text_path, "w") as f:
        f.write(TEXT)
    gqa = os.path.join(args.fixtures, "hf", "gqa-safetensors-sharded")
    check_against_torch(args, work, "gqa", gqa,
                        {"ctx": 16, "batch": 2, "grad_accum": 2, "steps": 4, "lr": 3e-3, "warmup": 1,
                         "lr_schedule": "cosine", "min_lr": 0.1, "weight_decay": 0.1, "grad_clip": 0.5}, text_path)
    check_against_torch(args, work, "demo", args.demo,
                        {"ctx": 24, "batch": 2, "steps": 3, "lr": 1e-3, "weight_decay": 0.01}, text_path)
    _, folder = check_resume(args, work, text_path)
    check_bad_input(args, work, text_path, folder)
    check_example_config(args, work, text_path)


if __name__ == "__main__":
    main_wrapper("full_train", main)
