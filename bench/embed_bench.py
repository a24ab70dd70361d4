#!/usr/bin/python3
"""Embedding throughput: `lmforge embed` against llama.cpp's llama-embedding, same GGUF files.

    embed_bench.py --lmforge build/lmforge --llama-bin DIR [--models A.gguf,B.gguf]
                   [--chunks 64] [--sentences 256] [--threads 2] [--runs 5]
                   [--llama-batch 512,2048] [--json OUT.json]

Inputs, the same for both engines:
  - chunks as `lmforge index` makes them (RecursiveCharacterTextSplitter, 1000 characters,
    overlap 200) of the docs/*.md files: the index is built BM25-only in a temporary folder and
    the first --chunks chunks of at least 800 characters are taken in file order; each chunk's
    whitespace runs become one space so that a chunk is one line for both tools (WordPiece
    splits on any whitespace, so the tokens are the same);
  - short inputs: the first --sentences sentences (30 to 200 characters) of the same docs.
Per model and input set, the engines run alternately --runs times each (lmforge, then
llama.cpp at every --llama-batch size, then again), each run a whole process (loading
included, as a user runs it); the medians of wall time and of CPU time (user + sys, which moves
less on a shared machine) give chunks/s and tokens/s, and ratio = llama.cpp's median time /
lmforge's (above 1: lmforge faster), against llama.cpp's fastest batch size.

Before timing, per model: (1) both engines must have fed the same number of tokens (lmforge's
`tokenize --lines` + [CLS]/[SEP], the sum of llama-embedding's "batch_decode: n_tokens" lines), and (2) the first
inputs' vectors must agree (cosine >= 0.999), so that both compute the same thing.

llama.cpp's settings: `--no-escape` (else a literal backslash-n in the docs' text becomes a line
break and splits an input in two), `-t N` (batch threads the same), `-c B -b B -ub B` (llama-embedding makes
the micro-batch the batch for non-causal models; every text must fit in one), `--no-warmup`,
the GGUF's own pooling (mean) and L2 normalisation as lmforge's. In one micro-batch ggml's BERT
graph attends over all its tokens with a mask, so a smaller batch wastes less attention work
but streams the weights more often: the script measures each size asked for.
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_timed(cmd, out_path=None):
    """Runs cmd; returns (wall seconds, user + sys CPU seconds, stdout text if out_path is None)."""
    t0 = time.perf_counter()
    with open(out_path or os.devnull, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("embed_bench: %s failed (%d):\n%s" % (" ".join(cmd), code, err[-3000:]))
    return wall, usage.ru_utime + usage.ru_stime, err


def make_inputs(lmforge, tmp, n_chunks, n_sentences):
    db = os.path.join(tmp, "chunks.db")
    docs = os.path.join(ROOT, "docs")
    subprocess.run([lmforge, "index", "-q", "--db", db, docs], check=True, stdout=subprocess.DEVNULL)
    con = sqlite3.connect(db)
    texts = [r[0] for r in con.execute(
        "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY d.path, c.ordinal")]
    con.close()
    chunks = [" ".join(t.split()) for t in texts if len(t) >= 800][:n_chunks]
    sentences = []
    for t in texts:
        for s in re.split(r"(?<=[.!?])\s+", " ".join(t.split())):
            if 30 <= len(s) <= 200 and s not in sentences:
                sentences.append(s)
    sentences = sentences[:n_sentences]
    sets = {}
    for name, lines in (("chunks", chunks), ("sentences", sentences)):
        if not lines:
            continue
        path = os.path.join(tmp, name + ".txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        sets[name] = (path, len(lines))
    return sets


def lmforge_tokens(lmforge, model, path):
    out = subprocess.run([lmforge, "tokenize", "-m", model, "-f", path, "--lines"], check=True,
                         capture_output=True, text=True).stdout
    counts = [len(json.loads(line)) + 2 for line in out.splitlines() if line.strip()]  # + [CLS], [SEP]
    return counts


def lmforge_cmd(a, model, path):
    return [a.lmforge, "embed", "-m", model, "-f", path, "--lines", "-t", str(a.threads)]


def llama_cmd(a, model, path, batch, fmt=None):
    cmd = [os.path.join(a.llama_bin, "llama-embedding"), "-m", model, "-f", path, "-t", str(a.threads),
           "-tb", str(a.threads), "-c", str(batch), "-b", str(batch), "-ub", str(batch), "--no-warmup", "--no-escape"]
    return cmd + (["--embd-output-format", fmt] if fmt else [])


def llama_token_count(err):
    """Tokens llama-embedding decoded: the sum of its "batch_decode: n_tokens = N" lines."""
    counts = re.findall(r"batch_decode: n_tokens = (\d+)", err)
    return sum(int(c) for c in counts) if counts else None


def check_agreement(a, model, path, n_lines, counts, tmp, batch):
    """Same tokens fed, and the first vectors equal to cosine >= 0.999."""
    out = os.path.join(tmp, "lf.txt")
    run_timed(lmforge_cmd(a, model, path), out)
    ours = np.array([[float(v) for v in line.split()] for line in open(out) if line.strip()])
    llama_out = os.path.join(tmp, "ll.txt")
    _, _, err = run_timed(llama_cmd(a, model, path, batch, "array"), llama_out)
    text = open(llama_out).read()
    theirs = np.array(json.loads(text[text.index("["):text.rindex("]") + 1]))
    if ours.shape != theirs.shape or ours.shape[0] != n_lines:
        sys.exit("embed_bench: %s: shapes differ: lmforge %s, llama.cpp %s" % (model, ours.shape, theirs.shape))
    cos = np.sum(ours * theirs, 1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    fed = llama_token_count(err)
    if fed != sum(counts):
        sys.exit("embed_bench: %s: llama.cpp fed %s tokens, lmforge %d" % (model, fed, sum(counts)))
    if cos.min() < 0.999:
        sys.exit("embed_bench: %s: vectors disagree, min cosine %.6f" % (model, cos.min()))
    return float(cos.min())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmforge", default=os.path.join(ROOT, "build", "lmforge"))
    ap.add_argument("--llama-bin", required=True, help="folder with llama-embedding "
                    "(scripts/build_llama_tools.sh --native prints it)")
    ap.add_argument("--models", required=True, help="comma-separated BERT GGUF files")
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--sentences", type=int, default=256)
    ap.add_argument("--sets", default="chunks,sentences")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--llama-batch", default="512,2048")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    batches = [int(b) for b in a.llama_batch.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="embed_bench.") as tmp:
        sets = make_inputs(a.lmforge, tmp, a.chunks, a.sentences)
        print("load average at start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
        for model in a.models.split(","):
            for set_name in a.sets.split(","):
                if set_name not in sets:
                    continue
                path, n_lines = sets[set_name]
                counts = lmforge_tokens(a.lmforge, model, path)
                tokens = sum(counts)
                cos = check_agreement(a, model, path, n_lines, counts, tmp, max(batches))
                engines = [("lmforge", lmforge_cmd(a, model, path))]
                engines += [("llama.cpp b%d" % b, llama_cmd(a, model, path, b)) for b in batches]
                times = {name: [] for name, _ in engines}
                for _ in range(a.runs):
                    for name, cmd in engines:
                        wall, cpu, _ = run_timed(cmd)
                        times[name].append((wall, cpu))
                row = {"model": os.path.basename(model), "set": set_name, "inputs": n_lines, "tokens": tokens,
                       "min_cosine": cos, "engines": {}}
                for name, ts in times.items():
                    wall = statistics.median(t[0] for t in ts)
                    cpu = statistics.median(t[1] for t in ts)
                    row["engines"][name] = {"wall_s": wall, "cpu_s": cpu, "inputs_per_s": n_lines / wall,
                                            "tokens_per_s": tokens / wall, "runs": ts}
                best = min((v["wall_s"], k) for k, v in row["engines"].items() if k != "lmforge")
                best_cpu = min(v["cpu_s"] for k, v in row["engines"].items() if k != "lmforge")
                row["ratio_wall"] = best[0] / row["engines"]["lmforge"]["wall_s"]
                row["ratio_cpu"] = best_cpu / row["engines"]["lmforge"]["cpu_s"]
                results.append(row)
                print("\n%s, %s: %d inputs, %d tokens (%.0f per input), min cosine %.6f" %
                      (row["model"], set_name, n_lines, tokens, tokens / n_lines, cos))
                for name, v in row["engines"].items():
                    print("  %-16s wall %7.2f s  cpu %7.2f s  %8.1f inputs/s  %9.0f tokens/s" %
                          (name, v["wall_s"], v["cpu_s"], v["inputs_per_s"], v["tokens_per_s"]))
                print("  ratio (llama.cpp's best / lmforge): wall %.2fx, cpu %.2fx" % (row["ratio_wall"], row["ratio_cpu"]),
                      flush=True)
        print("\nload average at end: %.2f %.2f %.2f" % os.getloadavg())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
