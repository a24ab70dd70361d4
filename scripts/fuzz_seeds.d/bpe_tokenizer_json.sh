#!/bin/sh
# Seeds for tests/fuzz/bpe_tokenizer_json_fuzz.cpp: small byte-level BPE tokenizer.json files
# in each form the reader accepts (Llama 3 and Qwen2 Split regexes, GPT-2's ByteLevel, SmolLM's
# Digits, merges as strings and as pairs, a BOS template, added tokens, NFC).
set -eu
out=$2
mkdir -p "$out/bpe_tokenizer_json"
/usr/bin/python3 - "$out/bpe_tokenizer_json" <<'PY'
import json, os, sys
out = sys.argv[1]
def alphabet():
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return chars
a = alphabet()
vocab = {a[b]: b for b in range(256)}
merges = [("H", "e"), ("He", "l"), ("l", "o"), ("Hel", "lo"), ("\u0120", "w"), ("1", "2")]
for x, y in merges:
    vocab.setdefault(x + y, len(vocab))
llama3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
qwen2 = llama3.replace(r"\p{N}{1,3}", r"\p{N}")
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
def split(rx):
    return {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": rx}, "behavior": "Isolated", "invert": False}, bl]}
added = [{"id": len(vocab), "content": "<|x|>", "special": True}, {"id": len(vocab) + 1, "content": "<t>", "special": False}]
post = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|x|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}
def tok(pre, merge_form, normalizer=None, ignore=False):
    m = [x + " " + y for x, y in merges] if merge_form == "str" else [[x, y] for x, y in merges]
    return {"version": "1.0", "added_tokens": added, "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": ignore, "vocab": vocab, "merges": m}}
seeds = {
    "llama3": tok(split(llama3), "str", ignore=True),
    "qwen2": tok(split(qwen2), "pair", {"type": "NFC"}),
    "gpt2": tok(dict(bl, use_regex=True), "str"),
    "smollm": tok({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, dict(bl, use_regex=True)]}, "pair"),
}
for name, j in seeds.items():
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
PY
