#!/usr/bin/python3
"""Retrieval quality of `lmforge ask` on the project's own documentation: 22 questions, each
worded differently from the passage that answers it, with the passage's key phrase as the gold
answer. A question is a hit at k when one of the first k chunks contains the phrase (whitespace
normalized). Prints hit@1, hit@k and MRR@k for bm25, vector and hybrid.

Usage: bench/retrieval_eval.py --lmforge build/lmforge -m EMBED_MODEL [-k 4] [--docs docs]
       [--chunk-size 1000] [--chunk-overlap 200] [--verbose]
The index is built in a temporary folder; nothing in the tree is written.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

QUESTIONS = [
    ("Can loading a .pth checkpoint execute arbitrary Python code?", "Unpickling can call any importable function"),
    ("How does lmforge tell file formats apart if not by the file name suffix?", "identifies every input by its bytes"),
    ("Why does the project refuse to render chat templates with a real Jinja engine?", "CVE-2024-34359"),
    ("In which order are a transformer block's linear layers quantized by GPTQ?", "[k, v, q] -> [o] -> [up, gate] -> [down]"),
    ("What happens when the Hessian cannot be factorized by Cholesky?", "suggests a larger"),
    ("How much memory do the activations need when quantizing a 7B model?", "| 128 × 512 | 3.2 GB"),
    ("Which footer value marks a TensorFlow checkpoint's index file?", "0xdb4775248b80fb57"),
    ("How do idle worker threads wait without burning a core?", "std::atomic::wait"),
    ("Why are the reference quantizers built without fused multiply-add?", "-ffp-contract=off"),
    ("How is the rotary row permutation done for grouped-query attention heads?", "using `n_head` for Q and `n_head_kv` for K"),
    ("Which instruction multiplies 8-bit tiles for Q4_0 prompts on Sapphire Rapids?", "TDPBSSD"),
    ("How does lmforge avoid leaving half-written output files after a crash?", "O_TMPFILE"),
    ("What stops a malicious tensor name from faking extra lines in the terminal?", "quoted_for_message"),
    ("How does the tokenizer treat bytes that are not valid UTF-8?", "count as one U+FFFD each"),
    ("How many dimensions may a GGUF tensor have at most?", "more than 4 dimensions"),
    ("How many weight rows are grouped together in the interleaved layout?", "regrouped 8 rows at a time"),
    ("Which Unicode version do the BERT tokenizer's character tables follow?", "Unicode 14.0.0"),
    ("What goes wrong with zero points of value zero in old-style GPTQ files?", "every v1 reader reads back as 2^bits"),
    ("Where in the KV cache does the engine place a new batch of tokens?", "first a run of free cells long enough"),
    ("In what sequence are the sampling steps applied?", "penalties → top-k → typical → top-p"),
    ("How long do worker threads spin before they go to sleep?", "2 ms sleeps"),
    ("What was dangerous about torch.load's defaults before version 2.6?", "weights_only=False"),
]


def normalized(s):
    return re.sub(r"\s+", " ", s).strip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lmforge", required=True)
    p.add_argument("-m", "--model", required=True, help="embedding model for the index (e.g. hash:384)")
    p.add_argument("-k", type=int, default=4)
    p.add_argument("--docs", default=os.path.join(HERE, "..", "docs"))
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--chunk-overlap", type=int, default=200)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    corpus = " ".join(normalized(open(os.path.join(root, f), encoding="utf-8").read())
                      for root, _, files in os.walk(a.docs) for f in files if f.endswith((".md", ".txt")))
    missing = [gold for _, gold in QUESTIONS if normalized(gold) not in corpus]
    if missing:
        sys.exit("gold phrases no longer in the docs (update the question set): %r" % missing)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "eval.db")
        subprocess.run([a.lmforge, "index", "--db", db, "-m", a.model, a.docs, "-q", "--chunk-size",
                        str(a.chunk_size), "--chunk-overlap", str(a.chunk_overlap)], check=True, stdout=subprocess.DEVNULL)
        print("%d questions over %s, chunks of %d/%d, embedder %s, k = %d" % (
            len(QUESTIONS), os.path.normpath(a.docs), a.chunk_size, a.chunk_overlap, a.model, a.k))
        print("%-7s %6s %6s %7s" % ("mode", "hit@1", "hit@%d" % a.k, "MRR@%d" % a.k))
        for mode in ("bm25", "vector", "hybrid"):
            hit1 = hitk = mrr = 0.0
            for question, gold in QUESTIONS:
                out = subprocess.run([a.lmforge, "ask", "--db", db, question, "--retrieve-only", "--json",
                                      "--mode", mode, "-k", str(a.k)], check=True, stdout=subprocess.PIPE).stdout
                ranks = [c["rank"] for c in json.loads(out)["chunks"] if normalized(gold) in normalized(c["text"])]
                if ranks:
                    hit1 += ranks[0] == 1
                    hitk += 1
                    mrr += 1.0 / ranks[0]
                elif a.verbose:
                    print("  %s miss: %s" % (mode, question))
            n = len(QUESTIONS)
            print("%-7s %6.2f %6.2f %7.3f" % (mode, hit1 / n, hitk / n, mrr / n))


if __name__ == "__main__":
    main()
