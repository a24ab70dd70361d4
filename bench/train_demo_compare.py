#!/usr/bin/python3
"""The demo model made by lmforge itself: `lmforge train` against tools/train_demo_model.py
(PyTorch, the reference that made models/demo) for the same number of steps, and the training
speed of `lmforge train` next to `lmforge finetune` on the same shape (issue 13, item 5).

    train_demo_compare.py --lmforge build/lmforge --steps N [--work DIR] [-t 2]

Both train the demo shape (vocab 4000, hidden 256, 4 layers, 4/2 heads, ffn 704, tied) on the
Brown corpus train split with the demo script's settings: batch 4 windows of 256 tokens, AdamW
(betas 0.9/0.95, weight decay 0.1 on matrices), peak lr 2e-3 with 100 warmup steps and a cosine
down to 0.1 of it, gradient clipping at 1.0. The differences that remain: the demo script starts
each window at a sentence and draws windows at random with torch's generator; lmforge takes
consecutive windows of the text (file lines joined by newlines) shuffled per epoch from its seed,
and initialises from its own RNG; the demo script trains its tokenizer, lmforge reads
models/demo/tokenizer.model (made by the same trainer settings). Both models are then scored by
`lmforge perplexity` on the held-out split (ctx 256, the second half of each chunk scored).

Speed: `lmforge train` and `lmforge finetune` (rank 8, all targets, on the PyTorch model converted
to f32) on the same ctx, batch and threads, alternately, a few steps each; tokens/s as both
print it (batch * ctx * steps / training time). Quote the load average (the machine is shared).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import brown_text  # noqa: E402

DEMO = os.path.join(REPO, "models", "demo")


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-3000:]))
    return r


def perplexity(lmforge, gguf, text, threads):
    r = sh([lmforge, "perplexity", "-m", gguf, "-f", text, "-c", "256", "-t", str(threads), "--json"])
    j = json.loads(r.stdout)
    return {k: j[k] for k in ("ppl", "ppl_error", "mean_nll", "n_chunks", "tokens_scored")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--work", default="/tmp/train_demo_compare")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--speed-steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    train_txt, held_txt = os.path.join(a.work, "train.txt"), os.path.join(a.work, "heldout.txt")
    for path, split in ((train_txt, "train"), (held_txt, "heldout")):
        with open(path, "w") as f:
            f.write("\n".join(brown_text.split_lines(brown_text.DEFAULT_CORPUS_DIR, split)) + "\n")
    with open(os.path.join(DEMO, "config.json")) as f:
        hf = json.load(f)
    cfg = {k: hf[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                              "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                              "rope_theta", "rms_norm_eps", "tie_word_embeddings")}
    cfg["tokenizer"] = os.path.join(DEMO, "tokenizer.model")
    cfg["training"] = {"ctx": 256, "batch": 4, "steps": a.steps, "lr": 2e-3, "warmup": 100, "lr_schedule": "cosine",
                       "min_lr": 0.1, "weight_decay": 0.1, "grad_clip": 1.0, "beta2": 0.95, "seed": 1234}
    cfg_path = os.path.join(a.work, "demo_train.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)

    ours = os.path.join(a.work, "lmforge-demo.gguf")
    t0 = time.time()
    r = sh([a.lmforge, "train", "--config", cfg_path, "--data", train_txt, "-o", ours, "-t", str(a.threads),
            "--json"])
    ours_s = time.time() - t0
    ours_run = json.loads(r.stdout)

    ref = os.path.join(a.work, "torch-demo")
    t0 = time.time()
    sh([sys.executable, os.path.join(REPO, "tools", "train_demo_model.py"), "--out", ref, "--steps", str(a.steps),
        "--eval-every", str(max(1, a.steps))])
    ref_s = time.time() - t0
    ref_gguf = os.path.join(a.work, "torch-demo.gguf")
    sh([a.lmforge, "convert", ref, ref_gguf, "--outtype", "f32", "--force", "--quiet"])

    pp_ours = perplexity(a.lmforge, ours, held_txt, a.threads)
    pp_ref = perplexity(a.lmforge, ref_gguf, held_txt, a.threads)

    # Speed: train (all weights) and finetune (LoRA r8) on the same shape, alternately.
    speed = {"train": [], "finetune": []}
    for _ in range(a.repeats):
        r = sh([a.lmforge, "train", "--config", cfg_path, "--data", train_txt, "-o", os.path.join(a.work, "s.gguf"),
                "--steps", str(a.speed_steps), "-t", str(a.threads), "--json"])
        speed["train"].append(json.loads(r.stdout)["tokens_per_s"])
        r = sh([a.lmforge, "finetune", "-m", ref_gguf, "--data", train_txt, "-o", os.path.join(a.work, "a.gguf"),
                "--ctx", "256", "--batch", "4", "--steps", str(a.speed_steps), "-t", str(a.threads), "--json"])
        speed["finetune"].append(json.loads(r.stdout)["tokens_per_s"])
    report = {
        "steps": a.steps, "threads": a.threads, "load_average": os.getloadavg(),
        "lmforge_train": {"final_train_loss": ours_run["loss"][-1], "heldout_perplexity": pp_ours,
                          "tokens_per_s": ours_run["tokens_per_s"], "wall_s": round(ours_s, 1)},
        "train_demo_model.py": {"heldout_perplexity": pp_ref, "wall_s": round(ref_s, 1)},
        "speed_tokens_per_s": {k: {"runs": v, "median": statistics.median(v)} for k, v in speed.items()},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
