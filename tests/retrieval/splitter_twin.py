#!/usr/bin/python3
"""An independent twin of LangChain's RecursiveCharacterTextSplitter (default separators,
keep_separator=True, length = len), written from LangChain's documented algorithm on Python
strings with the re module, for tests/retrieval/text_splitter_test.cpp.

Usage: splitter_twin.py MANIFEST.json  ->  prints a JSON list, one list of chunk strings per case.
MANIFEST: [{"file": path, "chunk_size": n, "chunk_overlap": m}, ...]; files are UTF-8.
"""
import json
import re
import sys

SEPARATORS = ["\n\n", "\n", " ", ""]


def split_keeping_separator(text, separator):
    if not separator:
        parts = list(text)
    else:
        raw = re.split("(" + re.escape(separator) + ")", text)
        parts = [raw[0]] + [raw[i] + raw[i + 1] for i in range(1, len(raw) - 1, 2)]
    return [p for p in parts if p != ""]


def join_pieces(pieces):
    joined = "".join(pieces).strip()
    return joined if joined else None


def merge(pieces, size, overlap):
    out, window, total = [], [], 0
    for piece in pieces:
        n = len(piece)
        if total + n > size and window:
            joined = join_pieces(window)
            if joined is not None:
                out.append(joined)
            while total > overlap or (total + n > size and total > 0):
                total -= len(window[0])
                window = window[1:]
        window.append(piece)
        total += n
    joined = join_pieces(window)
    if joined is not None:
        out.append(joined)
    return out


def split(text, separators, size, overlap):
    chosen, rest = separators[-1], []
    for i, sep in enumerate(separators):
        if sep == "":
            chosen = sep
            break
        if re.search(re.escape(sep), text):
            chosen, rest = sep, separators[i + 1:]
            break
    chunks, small = [], []
    for piece in split_keeping_separator(text, chosen):
        if len(piece) < size:
            small.append(piece)
            continue
        if small:
            chunks.extend(merge(small, size, overlap))
            small = []
        if rest:
            chunks.extend(split(piece, rest, size, overlap))
        else:
            chunks.append(piece)
    if small:
        chunks.extend(merge(small, size, overlap))
    return chunks


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for case in cases:
        with open(case["file"], "rb") as f:
            text = f.read().decode("utf-8")
        results.append(split(text, SEPARATORS, case["chunk_size"], case["chunk_overlap"]))
    json.dump(results, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
