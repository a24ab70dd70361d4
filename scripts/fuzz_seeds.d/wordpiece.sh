#!/bin/sh
# Seeds for tests/fuzz/wordpiece_folder_fuzz.cpp (vocab.txt, tokenizer_config.json and
# tokenizer.json joined by "\n\0\n") and tests/fuzz/wordpiece_tokenizer_fuzz.cpp (a settings
# byte, then text: accents, CJK, Greek sigma, controls, ill-formed UTF-8, special tokens).
set -eu
out=$2
mkdir -p "$out/wordpiece_folder" "$out/wordpiece_tokenizer"
/usr/bin/python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "中", "é", "##é"]
txt = "".join(t + "\n" for t in vocab).encode()
config = json.dumps({"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
                     "model_max_length": 512, "unk_token": {"content": "[UNK]", "__type": "AddedToken"},
                     "never_split": None, "added_tokens_decoder": {"4": {"content": "[MASK]", "special": True}}}).encode()
tj = json.dumps({"added_tokens": [{"id": 4, "content": "[MASK]", "special": True, "lstrip": True, "rstrip": False}],
                 "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                "strip_accents": None, "lowercase": True},
                 "pre_tokenizer": {"type": "BertPreTokenizer"},
                 "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                           "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}}}).encode()
sep = b"\n\0\n"
seeds = {"all": txt + sep + config + sep + tj, "vocab-only": txt, "json-only": sep + sep + tj,
         "vocab-config": txt + sep + config, "crlf": txt.replace(b"\n", b"\r\n")}
for name, data in seeds.items():
    open(os.path.join(out, "wordpiece_folder", name), "wb").write(data)
texts = ["Hello, World! Café naïve", "ΣΟΦΟΣ ΑΣ. İstanbul", "中文分词，日本語 한국어", "a\x00b\x1bc\u200bd\ufeffe\r\n\t",
         "[MASK] [CLS]x[SEP] ##a ab" + "b" * 120, "e\u0301 \U0001F469\u200d\U0001F467 \U00020000"]
for i, t in enumerate(texts):
    for flags in (0x1F, 0x10, 0xFF):
        open(os.path.join(out, "wordpiece_tokenizer", "%d-%02x" % (i, flags)), "wb").write(bytes([flags]) + t.encode())
open(os.path.join(out, "wordpiece_tokenizer", "bad-utf8"), "wb").write(b"\x1f\xe6\x97A\xc0\x80\xff\xed\xa0\x80")
PY
