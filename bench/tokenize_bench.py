#!/usr/bin/python3
"""Tokenization throughput (MB/s of UTF-8 text) of lmforge beside llama.cpp, same GGUF, same text.

    tokenize_bench.py --lmforge build/lmforge --vocab-dir DIR [--reps 5] [--repeat 4]
                      [--vocabs llama-bpe,qwen2,gpt-2] [--llama-tokenize BIN]

DIR holds llama.cpp's vocab-only GGUFs (ggml-vocab-NAME.gguf; oracle.bpe_tokenizer extracts
them into its workdir from node-llama-cpp's source bundle). The text is the Brown corpus, one
sentence per line, --repeat times (about 6 MB each), tokenized line by line with no BOS:

  lmforge    `lmforge tokenize -m GGUF -f TEXT --lines > /dev/null`, wall time minus the same
             command on a one-line file (loading the vocabulary), so printing the ids is counted
             against lmforge;
  llama.cpp  node-llama-cpp's model.tokenize per line in one process (vocabulary only),
             timed around the calls alone (tests/oracles/bpe_llama_cpp_tokenize.mjs time).

With --llama-tokenize (llama.cpp's own tokenizer binary, from the cached llama.cpp build that
scripts/build_llama_tools.sh makes), the whole file as one text as well, no node layer:

  lmforge        `lmforge tokenize -m GGUF -f TEXT --no-bos > /dev/null`
  llama-tokenize `llama-tokenize -m GGUF -f TEXT --no-bos --no-escape --log-disable > /dev/null`

both printing one "id -> 'piece'" line per token, each minus the same command on a one-line
file (loading the vocabulary); MB/s by wall time and by CPU time (user + system of the child:
on a loaded machine the steadier measure). Before timing, both tokenize the text once (--json / --ids) and
must give the same ids.

Both single-threaded. The engines alternate within each rep; medians and the ratio are printed.
"""

import argparse
import json
import os
import resource
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


def wall_and_cpu(cmd):
    """Wall seconds and CPU seconds (user + system) of one command; on a loaded machine the CPU
    time is the steadier of the two."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def whole_rate(args, engine, gguf, text_path, one_path, mb):
    """MB/s by wall time and by CPU time, the one-line run (loading the vocabulary) subtracted."""
    full = wall_and_cpu(whole_cmd(args, engine, gguf, text_path))
    base = wall_and_cpu(whole_cmd(args, engine, gguf, one_path))
    return mb / max(full[0] - base[0], 1e-9), mb / max(full[1] - base[1], 1e-9)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--vocab-dir", required=True)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--vocabs", default="llama-bpe,qwen2,gpt-2")
    p.add_argument("--llama-tokenize", help="llama.cpp's llama-tokenize binary: also time whole-file tokenization against it")
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
        ours, theirs, ours_whole, binary = [], [], [], []
        if args.llama_tokenize:
            same_ids(args, gguf, text_path, len(lines), work)
        engines = ["lmforge", "llama.cpp"] + (["lmforge-whole", "llama-tokenize"] if args.llama_tokenize else [])
        for rep in range(args.reps):
            for engine in (engines if rep % 2 == 0 else engines[::-1]):
                if engine == "lmforge-whole":
                    ours_whole.append(whole_rate(args, "lmforge", gguf, text_path, one_path, mb))
                elif engine == "llama-tokenize":
                    binary.append(whole_rate(args, "llama-tokenize", gguf, text_path, one_path, mb))
                elif engine == "lmforge":
                    base = wall([args.lmforge, "tokenize", "-m", gguf, "-f", one_path, "--lines"])
                    full = wall([args.lmforge, "tokenize", "-m", gguf, "-f", text_path, "--lines"])
                    ours.append(mb / max(full - base, 1e-9))
                else:
                    r = subprocess.run(["node", os.path.join(ORACLES, "bpe_llama_cpp_tokenize.mjs"), gguf, lines_path, "time",
                                        str(args.repeat)], check=True, capture_output=True, text=True)
                    t = json.loads(r.stdout)
                    theirs.append(t["bytes"] / 1e6 / t["seconds"])
        a, b = statistics.median(ours), statistics.median(theirs)
        print("%-10s lines: lmforge %6.2f MB/s (%.2f-%.2f)   llama.cpp via node %6.2f MB/s (%.2f-%.2f)   ratio %.2f" % (
            name, a, min(ours), max(ours), b, min(theirs), max(theirs), a / b), flush=True)
        for k, clock in enumerate(("wall", "cpu") if args.llama_tokenize else ()):
            x, y = [r[k] for r in ours_whole], [r[k] for r in binary]
            c, d = statistics.median(x), statistics.median(y)
            print("%-10s whole (%s): lmforge %6.2f MB/s (%.2f-%.2f)   llama-tokenize %6.2f MB/s (%.2f-%.2f)   ratio %.2f" % (
                name, clock, c, min(x), max(x), d, min(y), max(y), c / d), flush=True)
    print("load average after: %s" % (os.getloadavg(),))


def whole_cmd(args, engine, gguf, path):
    if engine == "lmforge":
        return [args.lmforge, "tokenize", "-m", gguf, "-f", path, "--no-bos"]
    return [args.llama_tokenize, "-m", gguf, "-f", path, "--no-bos", "--no-escape", "--log-disable"]


def same_ids(args, gguf, text_path, n_lines, work):
    """Both engines give the same ids on the text (its first repeat) before any timing."""
    first = os.path.join(work, "first.txt")
    with open(text_path, encoding="utf-8", newline="") as f:
        text = "\n".join(f.read().split("\n")[:n_lines])
    with open(first, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    ours = json.loads(subprocess.run([args.lmforge, "tokenize", "-m", gguf, "-f", first, "--no-bos", "--json"], check=True,
                                     capture_output=True).stdout)["ids"]
    theirs = json.loads(subprocess.run(whole_cmd(args, "llama-tokenize", gguf, first) + ["--ids"], check=True,
                                       capture_output=True).stdout)
    if ours != theirs:
        k = next((i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]), min(len(ours), len(theirs)))
        sys.exit("%s: lmforge and llama-tokenize differ at id %d of %d/%d" % (gguf, k, len(ours), len(theirs)))


if __name__ == "__main__":
    main()
