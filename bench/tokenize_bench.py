#!/usr/bin/python3
"""Tokenization throughput (MB/s of UTF-8 text) of lmforge beside llama.cpp, same GGUF, same text.

    tokenize_bench.py --lmforge build/lmforge --vocab-dir DIR [--reps 5] [--repeat 4]
                      [--vocabs llama-bpe,qwen2,gpt-2]

DIR holds llama.cpp's vocab-only GGUFs (ggml-vocab-NAME.gguf; oracle.bpe_tokenizer extracts
them into its workdir from node-llama-cpp's source bundle). The text is the Brown corpus, one
sentence per line, --repeat times (about 6 MB each), tokenized line by line with no BOS:

  lmforge    `lmforge tokenize -m GGUF -f TEXT --lines > /dev/null`, wall time minus the same
             command on a one-line file (loading the vocabulary), so printing the ids is counted
             against lmforge;
  llama.cpp  node-llama-cpp's model.tokenize per line in one process (vocabulary only),
             timed around the calls alone (tests/oracles/bpe_llama_cpp_tokenize.mjs time).

Both single-threaded. The engines alternate within each rep; medians and the ratio are printed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLES = os.path.join(HERE, "..", "tests", "oracles")
sys.path.insert(0, ORACLES)
from check_tokenizer import brown_lines  # noqa: E402


def wall(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--vocab-dir", required=True)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--vocabs", default="llama-bpe,qwen2,gpt-2")
    args = p.parse_args()
    lines = brown_lines()
    work = tempfile.mkdtemp(prefix="tokenize-bench-")
    text_path = os.path.join(work, "text.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines * args.repeat))
    one_path = os.path.join(work, "one.txt")
    with open(one_path, "w", encoding="utf-8") as f:
        f.write(lines[0])
    lines_path = os.path.join(work, "lines.json")
    with open(lines_path, "w", encoding="utf-8") as f:
        json.dump(lines, f, ensure_ascii=False)
    mb = os.path.getsize(text_path) / 1e6
    print("text: %.2f MB (%d lines x %d); load average %s" % (mb, len(lines), args.repeat, os.getloadavg()), flush=True)
    for name in args.vocabs.split(","):
        gguf = os.path.join(args.vocab_dir, "ggml-vocab-%s.gguf" % name)
        ours, theirs = [], []
        for rep in range(args.reps):
            for engine in (("lmforge", "llama.cpp") if rep % 2 == 0 else ("llama.cpp", "lmforge")):
                if engine == "lmforge":
                    base = wall([args.lmforge, "tokenize", "-m", gguf, "-f", one_path, "--lines"])
                    full = wall([args.lmforge, "tokenize", "-m", gguf, "-f", text_path, "--lines"])
                    ours.append(mb / max(full - base, 1e-9))
                else:
                    r = subprocess.run(["node", os.path.join(ORACLES, "bpe_llama_cpp_tokenize.mjs"), gguf, lines_path, "time",
                                        str(args.repeat)], check=True, capture_output=True, text=True)
                    t = json.loads(r.stdout)
                    theirs.append(t["bytes"] / 1e6 / t["seconds"])
        a, b = statistics.median(ours), statistics.median(theirs)
        print("%-10s lmforge %6.2f MB/s (%.2f-%.2f)   llama.cpp %6.2f MB/s (%.2f-%.2f)   ratio %.2f" % (
            name, a, min(ours), max(ours), b, min(theirs), max(theirs), a / b), flush=True)
    print("load average after: %s" % (os.getloadavg(),))


if __name__ == "__main__":
    main()
