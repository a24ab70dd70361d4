"""oracle.variants_realtok's own parts: the variant folders that carry the real Llama 3 and
Qwen2.5 tokenizer.json files (tools/make_realtok_fixtures.py), checked by check_variants.py.

  - prompt ids from tokenizers.js (@huggingface/tokenizers, an independent tokenizer.json
    implementation), with BOS where llama.cpp adds one;
  - the GGUF's vocabulary keys against what llama.cpp's converter (convert_hf_to_gguf.py and
    gguf-py's SpecialVocab, read in llama.cpp's source for the facts) writes for the folder:
    tokenizer.ggml.model "gpt2", tokenizer.ggml.pre "llama-bpe" / "qwen2", every token in
    id order then [PADi] up to config.json's vocab_size, token types (added special or
    <|...|>-looking tokens CONTROL, other added tokens USER_DEFINED, padding UNUSED), merges
    as "a b" strings in rank order, bos/eos ids, add_bos_token written only when the folder
    says it;
  - tokenizer parity on every Brown line, the stress lines and llama.cpp's converter check
    text: lmforge on the folder (NFC applied for Qwen2.5) against tokenizers.js on the same
    tokenizer.json, and lmforge on the converted GGUF against llama.cpp's tokenizer on that
    GGUF (on NFC text: llama.cpp has no normalizer step);
  - bad tokenizer.json files: `lmforge convert` refuses with one error line, exit 1, no output.
"""

import json
import os
import shutil
import unicodedata

from common import CheckFailed, check, run, run_node
import check_bpe_tokenizer
from check_bpe_tokenizer import CHKTXT, EXTRA_LINES
from check_tokenizer import STRESS_LINES, brown_lines, random_lines

# The package's tokenizer_config.json decides these; llama.cpp adds BOS for "llama-bpe" when
# the GGUF has no add_bos_token key (llama-vocab.cpp), which is what its converter writes for
# a tokenizer.json whose post-processor is ByteLevel and whose tokenizer_config.json has no
# add_bos_token (Llama 3's first release).
EXPECT = {
    "llama3-real": dict(pre="llama-bpe", add_bos_key=None, add_bos=True, bos=128000, eos=128001, nfc=False,
                        tokenizer_size=128256, eog=[128001, 128009], chat="llama3"),
    "qwen2.5-real": dict(pre="qwen2", add_bos_key=False, add_bos=False, bos=151643, eos=151645, nfc=True,
                         tokenizer_size=151665, eog=[151643, 151645], chat="chatml"),
}
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5


def meta(info, key):
    v = info["metadata"].get(key)
    return None if v is None else v["value"]


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)


def load_tokenizer_json(folder):
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        return json.load(f)


def tokenizers_js(tokenizer_json, lines, work, tag):
    path = os.path.join(work, tag + ".lines.json")
    write_json(path, lines)
    return run_node("bpe_tokenizers_js.mjs", [tokenizer_json, path], timeout=900)


def llama_cpp_tokens(gguf, lines, work, tag):
    path = os.path.join(work, tag + ".lines.json")
    write_json(path, lines)
    return run_node("bpe_llama_cpp_tokenize.mjs", [gguf, path], timeout=900)


def prompt_ids(name, folder, prompts, work):
    """tokenizers.js's ids of each prompt, BOS first where llama.cpp adds it."""
    e = EXPECT[name]
    ids = tokenizers_js(os.path.join(folder, "tokenizer.json"), prompts, work, name + ".prompts")
    return [([e["bos"]] if e["add_bos"] else []) + i for i in ids]


def looks_special(text):
    # convert_hf_to_gguf.py's does_token_look_special, the part these vocabularies meet
    return (text.startswith("<|") and text.endswith("|>")) or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))


def expected_vocab(folder, vocab_size):
    """Tokens and types as llama.cpp's converter writes them for the folder's tokenizer.json."""
    tj = load_tokenizer_json(folder)
    tokens = ["[PAD%d]" % i for i in range(vocab_size)]
    types = [UNUSED] * vocab_size
    for text, i in tj["model"]["vocab"].items():
        tokens[i], types[i] = text, NORMAL
    for t in tj["added_tokens"]:
        tokens[t["id"]] = t["content"]
        types[t["id"]] = CONTROL if t["special"] or looks_special(t["content"]) else USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    return tokens, types, merges


def check_vocab_metadata(name, folder, info, cfg):
    e = EXPECT[name]
    n = cfg["vocab_size"]
    tokens, types, merges = expected_vocab(folder, n)
    check(meta(info, "tokenizer.ggml.model") == "gpt2", "%s: tokenizer.ggml.model is %r" % (name, meta(info, "tokenizer.ggml.model")))
    check(meta(info, "tokenizer.ggml.pre") == e["pre"], "%s: tokenizer.ggml.pre is %r, llama.cpp's converter writes %r"
          % (name, meta(info, "tokenizer.ggml.pre"), e["pre"]))
    got = meta(info, "tokenizer.ggml.tokens")
    check(len(got) == n, "%s: %d tokens, config.json says %d" % (name, len(got), n))
    bad = [i for i in range(n) if got[i] != tokens[i]]
    check(not bad, "%s: %d tokens differ from tokenizer.json's; first: id %d %r, expected %r"
          % (name, len(bad), bad[0] if bad else 0, got[bad[0]] if bad else "", tokens[bad[0]] if bad else ""))
    check(sum(t.startswith("[PAD") for t in got) == n - e["tokenizer_size"],
          "%s: expected %d [PADi] tokens" % (name, n - e["tokenizer_size"]))
    got_types = meta(info, "tokenizer.ggml.token_type")
    bad = [i for i in range(n) if got_types[i] != types[i]]
    check(not bad, "%s: %d token types differ from llama.cpp's converter; first: id %d %r type %s, expected %s"
          % (name, len(bad), bad[0] if bad else 0, tokens[bad[0]] if bad else "", got_types[bad[0]] if bad else "",
             types[bad[0]] if bad else ""))
    got_merges = meta(info, "tokenizer.ggml.merges")
    check(got_merges == merges, "%s: merges differ (%d written, %d in tokenizer.json)" % (name, len(got_merges), len(merges)))
    check(meta(info, "tokenizer.ggml.bos_token_id") == e["bos"], "%s: bos_token_id is %r, expected %d"
          % (name, meta(info, "tokenizer.ggml.bos_token_id"), e["bos"]))
    check(meta(info, "tokenizer.ggml.eos_token_id") == e["eos"], "%s: eos_token_id is %r, expected %d"
          % (name, meta(info, "tokenizer.ggml.eos_token_id"), e["eos"]))
    check(meta(info, "tokenizer.ggml.add_bos_token") == e["add_bos_key"],
          "%s: tokenizer.ggml.add_bos_token is %r; llama.cpp's converter writes %s"
          % (name, meta(info, "tokenizer.ggml.add_bos_token"), "none" if e["add_bos_key"] is None else e["add_bos_key"]))
    print("%s: vocabulary keys as llama.cpp's converter writes them (%d tokens, %d merges, pre %s)"
          % (name, n, len(merges), e["pre"]), flush=True)


def renormalized(probs):
    """llama.cpp's probabilities divided by their float64 sum. Its sampler normalizes with a
    float32 running sum, to which a term under half an ulp of the sum adds nothing: over 128k
    or 152k tokens that shrinks the sum and raises every probability of a position by the same
    factor (3e-4 relative here, against 1e-7 with the 450-token fixtures). The factor is common
    to the whole position, so dividing it out leaves the ratios, the model's part, untouched."""
    return [p / p.sum(-1, keepdims=True) for p in probs]


def check_llama_cpp_reads_bos(name, llama_out):
    e = EXPECT[name]
    check(bool(llama_out["add_bos"]) == e["add_bos"], "%s: llama.cpp's add_bos is %s on our GGUF, expected %s"
          % (name, llama_out["add_bos"], e["add_bos"]))


# ---------------------------------------------------------------------------------------------
# tokenizer parity

def parity_lines():
    stress = [s for s in STRESS_LINES + random_lines(400, 4321) + EXTRA_LINES if "\n" not in s]
    return brown_lines() + stress + CHKTXT.split("\n")


def lmforge_lines(lmforge, model, lines, work, tag, extra=()):
    # The real vocabularies are large: a longer bound than check_bpe_tokenizer's own calls.
    return check_bpe_tokenizer.lmforge_lines(lmforge, model, lines, work, tag, extra, timeout=900)


def compare(tag, lines, got, want):
    bad = [i for i in range(len(lines)) if got[i] != want[i]]
    if bad:
        i = bad[0]
        raise CheckFailed("%s: %d of %d lines differ; first: line %d %r\n  lmforge: %s\n  oracle:  %s" % (
            tag, len(bad), len(lines), i, lines[i][:200], got[i][:40], want[i][:40]))
    print("%s: %d lines identical" % (tag, len(lines)), flush=True)


def check_tokenizer_parity(name, lmforge, folder, gguf, work):
    lines = parity_lines()
    # JavaScript's \s also matches U+FEFF, which is not White_Space (Oniguruma's and llama.cpp's
    # \s): tokenizers.js splits differently there (check_bpe_tokenizer.py leaves them out too).
    js_lines = [s for s in lines if "\ufeff" not in s]
    # The tokenizers library always cuts added tokens out of the text: lmforge's --parse-special.
    want = tokenizers_js(os.path.join(folder, "tokenizer.json"), js_lines, work, name + ".parity-js")
    got = lmforge_lines(lmforge, folder, js_lines, work, name + ".parity-folder", ["--parse-special"])
    compare("%s: folder (tokenizer.json%s) vs tokenizers.js" % (name, ", NFC" if EXPECT[name]["nfc"] else ""), js_lines, got, want)
    # node-llama-cpp hands text over as a C string (a NUL would end it); llama.cpp skips NFC.
    cpp_lines = [unicodedata.normalize("NFC", s) if EXPECT[name]["nfc"] else s for s in lines if "\x00" not in s]
    want = llama_cpp_tokens(gguf, cpp_lines, work, name + ".parity-cpp")
    got = lmforge_lines(lmforge, gguf, cpp_lines, work, name + ".parity-gguf")
    compare("%s: converted GGUF vs llama.cpp%s" % (name, " (NFC text)" if EXPECT[name]["nfc"] else ""), cpp_lines, got, want)


# ---------------------------------------------------------------------------------------------
# bad tokenizer.json files

def bad_tokenizer_folder(work, src, case, edit):
    d = os.path.join(work, "bad", case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in os.listdir(src):
        if f == "tokenizer.json":
            continue
        if f.endswith(".safetensors"):
            os.symlink(os.path.abspath(os.path.join(src, f)), os.path.join(d, f))
        else:
            shutil.copy(os.path.join(src, f), d)
    tj = load_tokenizer_json(src)
    edit(tj)
    write_json(os.path.join(d, "tokenizer.json"), tj)
    return d


def check_bad_tokenizers(lmforge, work, folder):
    def model_type(tj):
        tj["model"]["type"] = "WordPiece"

    def regex(tj):
        tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+|\s+"

    def merge_unknown(tj):
        m = tj["model"]["merges"]
        m.insert(5, "zz\u00e9q qq\u00e9zz" if isinstance(m[0], str) else ["zz\u00e9q", "qq\u00e9zz"])

    def duplicate(tj):
        tj["model"]["vocab"]["Hello"] = tj["model"]["vocab"]["hello"]

    cases = [
        ("tokenizer-model-type", model_type, "tokenizer model type 'WordPiece' is not supported"),
        ("tokenizer-regex", regex, r"the Split regex '\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+|\s+' is not one lmforge implements"),
        ("tokenizer-merge-unknown", merge_unknown, "zz\u00e9q"),
        ("tokenizer-duplicate", duplicate, "duplicate vocabulary entries"),
    ]
    for case, edit, needle in cases:
        d = bad_tokenizer_folder(work, folder, case, edit)
        out = os.path.join(work, "bad", case + ".gguf")
        if os.path.exists(out):
            os.remove(out)
        r = run([lmforge, "convert", d, out, "--quiet"], check_rc=False, timeout=300)
        err = r.stderr.decode(errors="replace").strip()
        check(r.returncode == 1, "bad input %s: lmforge convert exited %d (want 1); stderr: %s" % (case, r.returncode, err[-500:]))
        check(needle in err, "bad input %s: the error does not say %r: %s" % (case, needle, err[-500:]))
        check(len(err.splitlines()) == 1 and err.startswith("lmforge: error:"),
              "bad input %s: not one error line: %s" % (case, err[-500:]))
        check(not os.path.exists(out), "bad input %s: an output file was left behind" % case)
        print("bad input %s: refused: %s" % (case, err[:300]), flush=True)
