#!/usr/bin/python3
"""lmforge's byte-level BPE tokenizer against llama.cpp and against tokenizers.js.

The vocabularies are the vocab-only GGUFs llama.cpp's source ships (models/ggml-vocab-*.gguf
from node-llama-cpp's gitRelease.bundle): llama-bpe (Llama 3), qwen2 and gpt-2. For each:

  1. llama.cpp's own test vectors (.inp/.out beside each GGUF) through `lmforge tokenize`;
  2. every Brown corpus line and a multilingual stress text (CJK, emoji, combining marks,
     digits, contractions, whitespace runs) through `lmforge tokenize --lines` on the GGUF,
     against llama.cpp's tokenizer on the same GGUF (node-llama-cpp, vocabulary only). llama.cpp
     skips Qwen2's NFC normalizer, so for qwen2 the lines are put in NFC first;
  3. the same lines on the tokenizer.json that lmforge's GGUF -> tokenizer.json writer exports
     (`tokenize --write-tokenizer-json`; no real Llama 3 / Qwen2 tokenizer.json is available
     offline), against Hugging Face's tokenizers.js (@huggingface/tokenizers) on that file. For
     qwen2 the file has Qwen2's NFC normalizer and the raw (non-NFC) lines are compared. The
     tokenizers library always cuts added tokens out of the text, which is llama.cpp's
     parse_special: lmforge runs with --parse-special here (without it, control-token text is
     plain text, as llama.cpp's default).
  4. SmolLM's pre-tokenizer (Digits(individual_digits) + ByteLevel) on the gpt-2 vocabulary's
     tokenizer.json, against tokenizers.js;
  5. --parse-special against llama.cpp's parse_special on text with control-token markers;
  6. conversion: the fixtures' mha-safetensors model with its tokenizer.model replaced by a
     small byte-level BPE tokenizer.json (Llama 3's regex, a BOS template, a special and a
     non-special added token) converts to a GGUF whose vocabulary llama.cpp loads and
     tokenizes as lmforge does on the folder;
  7. GGUF -> Hugging Face folder: that GGUF converts to a folder with tokenizer.json,
     tokenizer_config.json and generation_config.json (no tokenizer.model); tokenizers.js on
     the written tokenizer.json gives lmforge's ids; the folder converts back to a GGUF with
     the same tokenizer.* keys; `lmforge inspect` reports the same kind, pre-tokenizer and
     special ids for both (and its text output names them);
  8. several EOS ids: generation_config.json's eos_token_id [<|eot_id|>, T] with T a plain token
     the model's greedy output reaches: the GGUF gets eos <|eot_id|> and eot_token_id T,
     llama.cpp's end-of-generation set holds T, and `lmforge run --temp 0` stops right before
     T, where llama.cpp's greedy continuation cut at its first end-of-generation token stops;
     GGUF -> folder writes both ids back into generation_config.json.
"""

import argparse
import json
import os
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HERE, NODE_MODULES, CheckFailed, check, main_wrapper, run  # noqa: E402
from check_tokenizer import STRESS_BLOB, STRESS_LINES, brown_lines, random_lines  # noqa: E402

BUNDLE = os.path.join(NODE_MODULES, "node-llama-cpp", "llama", "gitRelease.bundle")
VOCABS = ["gpt-2", "llama-bpe", "qwen2"]  # gpt-2 first: SmolLM reuses its tokenizer.json

# llama.cpp's converter check string (convert_hf_to_gguf.py's chktxt) and more of the same.
CHKTXT = ("\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\U0001F680 (normal) \U0001F636\u200d\U0001F32B\ufe0f "
          "(multiple emojis concatenated) \u2705 \U0001F999\U0001F999 3 33 333 3333 33333 333333 3333333 33333333 3.3 "
          "3..3 3...3 \u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f\u17a2\u17b6\u1785\U0001F601 "
          "?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e ------======= \u043d\u0435\u0449\u043e \u043d\u0430 "
          "\u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438 ''''''```````\"\"\"\"......!!!!!!?????? I've been "
          "'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL")
EXTRA_LINES = [
    "I'VE 'S 'LL 'Re 'vE 'd 't it's we're they'll you'd I'm ' 's",
    "1 12 123 1234 12345 123456 1234567 \u0661\u0662\u0663\u0664 \u00b2\u00b3 \u2167 \u00bd 12a34b567",
    "tabs\t\tand   spaces    before words",
    "trailing whitespace \t ",
    "\u00a0\u00a0nbsp\u3000ideographic",
    "e\u0301 a\u0300 \u1100\u1161\u11a8 \u0041\u030a \u212b \u00c5 \u1e9b\u0323",
    "<|begin_of_text|> <|eot_id|> <|im_start|> <|endoftext|> look special",
]
SPECIAL_TEXT = ["<|begin_of_text|>Hello<|eot_id|>", "<|im_start|>user\nhi<|im_end|>\n", "<|endoftext|> x <|endoftext|>"]


def node(script, *args, timeout=600):
    r = run(["node", os.path.join(HERE, script)] + list(args), timeout=timeout)
    return json.loads(r.stdout)


def lmforge_lines(lmforge, model, lines, work, name, extra=(), timeout=600):
    path = os.path.join(work, name + ".txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines))
    r = run([lmforge, "tokenize", "-m", model, "-f", path, "--lines"] + list(extra), timeout=timeout)
    out = [json.loads(l) for l in r.stdout.decode().split("\n") if l]
    check(len(out) == len(lines), "%s: %d lines in, %d arrays out" % (name, len(lines), len(out)))
    return out


def whole_text_ids(lmforge, model, text, work, extra=()):
    path = os.path.join(work, "whole.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return json.loads(run([lmforge, "tokenize", "-m", model, "-f", path, "--json", "--no-bos"] + list(extra)).stdout)["ids"]


def compare(name, lines, got, want):
    bad = [i for i in range(len(lines)) if got[i] != want[i]]
    if bad:
        i = bad[0]
        raise CheckFailed("%s: %d of %d lines differ; first: line %d %r\n  lmforge: %s\n  oracle:  %s" % (
            name, len(bad), len(lines), i, lines[i][:200], got[i][:40], want[i][:40]))
    print("%s: %d lines identical" % (name, len(lines)), flush=True)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)


def extract_vocabs(work):
    src = os.path.join(work, "llama-src")
    if not os.path.isdir(src):
        run(["git", "clone", "-q", "--no-checkout", BUNDLE, src], timeout=300)
    out = {}
    for name in VOCABS:
        for ext in ("", ".inp", ".out"):
            path = os.path.join(work, "ggml-vocab-%s.gguf%s" % (name, ext))
            if not os.path.exists(path):
                data = run(["git", "-C", src, "show", "HEAD:models/ggml-vocab-%s.gguf%s" % (name, ext)], timeout=120).stdout
                with open(path, "wb") as f:
                    f.write(data)
        out[name] = os.path.join(work, "ggml-vocab-%s.gguf" % name)
    return out


def test_vectors(lmforge, gguf, work, name):
    cases = open(gguf + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
    outs = open(gguf + ".out", encoding="utf-8").read().split("\n")
    n = min(len(cases), len(outs))
    check(n > 30, "%s: expected llama.cpp's test vectors, found %d" % (name, n))
    path = os.path.join(work, "case.txt")
    for i in range(n):
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(cases[i])
        r = run([lmforge, "tokenize", "-m", gguf, "-f", path, "--json", "--no-bos"])
        got = json.loads(r.stdout)["ids"]
        want = [int(x) for x in outs[i].split()]
        check(got == want, "%s: llama.cpp test vector %d %r: lmforge %s, llama.cpp %s" % (name, i, cases[i][:80], got, want))
    print("%s: %d llama.cpp test vectors identical" % (name, n), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--fixtures", default=None, help="tools/make_fixtures.py's directory (for the conversion check)")
    args = p.parse_args()
    work = args.workdir
    os.makedirs(work, exist_ok=True)
    vocabs = extract_vocabs(work)

    stress = [s for s in STRESS_LINES + random_lines(400, 4321) + EXTRA_LINES if "\n" not in s]
    lines = brown_lines() + stress + CHKTXT.split("\n")
    # node-llama-cpp hands text to llama.cpp as a C string: a NUL would end it early.
    llama_lines = [s for s in lines if "\x00" not in s]
    # JavaScript's \s also matches U+FEFF, which is not White_Space (the \s of the tokenizers
    # library's Oniguruma and of llama.cpp, whose comparison keeps these lines).
    js_lines = [s for s in lines if "\ufeff" not in s]

    for name, gguf in vocabs.items():
        test_vectors(args.lmforge, gguf, work, name)

        texts = [unicodedata.normalize("NFC", s) for s in llama_lines] if name == "qwen2" else llama_lines
        path = os.path.join(work, name + "-lines.json")
        write_json(path, texts)
        want = node("bpe_llama_cpp_tokenize.mjs", gguf, path)
        compare("%s: GGUF vs llama.cpp" % name, texts, lmforge_lines(args.lmforge, gguf, texts, work, name + "-gguf"), want)

        whole = os.path.join(work, name + "-whole.json")
        write_json(whole, [STRESS_BLOB, CHKTXT])
        want = node("bpe_llama_cpp_tokenize.mjs", gguf, whole)
        for text, ids in zip([STRESS_BLOB, CHKTXT], want):
            got = whole_text_ids(args.lmforge, gguf, text, work)
            check(got == ids, "%s: multi-line text %r: lmforge %s, llama.cpp %s" % (name, text[:40], got[:40], ids[:40]))

        special = os.path.join(work, name + "-special.json")
        write_json(special, SPECIAL_TEXT)
        want = node("bpe_llama_cpp_tokenize.mjs", gguf, special, "special")
        for text, ids in zip(SPECIAL_TEXT, want):
            got = whole_text_ids(args.lmforge, gguf, text, work, ["--parse-special"])
            check(got == ids, "%s: --parse-special %r: lmforge %s, llama.cpp %s" % (name, text, got, ids))
        print("%s: --parse-special identical to llama.cpp's parse_special" % name, flush=True)

        tj = os.path.join(work, name + "-tokenizer.json")
        run([args.lmforge, "tokenize", "-m", gguf, "--write-tokenizer-json", tj])
        path = os.path.join(work, name + "-raw-lines.json")
        write_json(path, js_lines)
        want = node("bpe_tokenizers_js.mjs", tj, path)
        compare("%s: tokenizer.json vs tokenizers.js" % name, js_lines,
                lmforge_lines(args.lmforge, tj, js_lines, work, name + "-json", ["--parse-special"]), want)

    # SmolLM's pre-tokenizer on the gpt-2 vocabulary.
    with open(os.path.join(work, "gpt-2-tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    smol = os.path.join(work, "smollm-tokenizer.json")
    write_json(smol, tj)
    # tokenizers.js's Digits matches JavaScript's \d (ASCII digits); the tokenizers library's
    # (char::is_numeric) and llama.cpp's smollm regex (\p{N}) take every number character.
    smol_lines = [s for s in js_lines if not any(ord(c) > 127 and unicodedata.category(c)[0] == "N" for c in s)]
    path = os.path.join(work, "smollm-lines.json")
    write_json(path, smol_lines)
    want = node("bpe_tokenizers_js.mjs", smol, path)
    compare("smollm (gpt-2 vocabulary): tokenizer.json vs tokenizers.js", smol_lines,
            lmforge_lines(args.lmforge, smol, smol_lines, work, "smollm-json", ["--parse-special"]), want)

    if args.fixtures:
        check_conversion(args, work, stress + CHKTXT.split("\n"))
        check_hf_round_trip(args, work, stress + CHKTXT.split("\n"))
        check_second_eos(args, work)


def tiny_bpe_folder(fixtures, folder):
    """The fixture model with a 266-token byte-level BPE tokenizer.json instead of tokenizer.model."""
    import shutil
    src = os.path.join(fixtures, "hf", "mha-safetensors")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(os.path.join(src, name), folder)
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    vocab = {chars[b]: b for b in range(256)}
    merges = [("t", "h"), ("th", "e"), ("\u0120", "the"), ("i", "n"), ("\u0120", "a"), ("e", "r")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    regex = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    bos, eot, tool = len(vocab), len(vocab) + 1, len(vocab) + 2
    tj = {"version": "1.0",
          "added_tokens": [{"id": bos, "content": "<|begin_of_text|>", "special": True},
                           {"id": eot, "content": "<|eot_id|>", "special": True},
                           {"id": tool, "content": "<tool>", "special": False}],
          "normalizer": None,
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
              {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
          "post_processor": {"type": "TemplateProcessing", "single": [
              {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
          "decoder": {"type": "ByteLevel"},
          "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": True, "vocab": vocab,
                    "merges": [[a, b] for a, b in merges]}}
    write_json(os.path.join(folder, "tokenizer.json"), tj)
    write_json(os.path.join(folder, "tokenizer_config.json"),
               {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": "{{ messages }}"})
    return bos, eot


def check_conversion(args, work, lines):
    folder = os.path.join(work, "bpe-folder")
    bos, eot = tiny_bpe_folder(args.fixtures, folder)
    gguf = os.path.join(work, "bpe-folder.gguf")
    run([args.lmforge, "convert", folder, gguf, "--outtype", "f32", "-q", "--force"], timeout=300)
    lines = [s for s in lines if "\x00" not in s] + ["the <tool> the<tool>in", "<|eot_id|> is plain text here"]
    path = os.path.join(work, "conv-lines.json")
    write_json(path, lines)
    want = node("bpe_llama_cpp_tokenize.mjs", gguf, path)
    compare("converted folder: tokenizer.json vs llama.cpp on our GGUF", lines,
            lmforge_lines(args.lmforge, folder, lines, work, "conv-folder"), want)
    compare("converted folder: our GGUF vs llama.cpp", lines, lmforge_lines(args.lmforge, gguf, lines, work, "conv-gguf"), want)
    with_bos = json.loads(run([args.lmforge, "tokenize", "-m", gguf, "-p", "the", "--json"]).stdout)["ids"]
    check(with_bos[0] == bos, "the converted GGUF does not add BOS %d: %s" % (bos, with_bos))


def tokenizer_keys(lmforge, gguf):
    from common import lmforge_inspect
    info = lmforge_inspect(lmforge, gguf)
    return {k: v["value"] for k, v in info["metadata"].items() if k.startswith("tokenizer.")}, info


def check_hf_round_trip(args, work, lines):
    """GGUF -> HF folder -> GGUF keeps the tokenizer keys; tokenizers.js reads the folder as lmforge does."""
    gguf = os.path.join(work, "bpe-folder.gguf")  # written by check_conversion
    back = os.path.join(work, "bpe-back")
    run([args.lmforge, "convert", gguf, back, "-q", "--force"], timeout=300)
    have = sorted(os.listdir(back))
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"):
        check(name in have, "GGUF -> HF: %s is missing (folder has %s)" % (name, have))
    check("tokenizer.model" not in have, "GGUF -> HF: a byte-level BPE folder got a tokenizer.model")
    with open(os.path.join(back, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    check(tc.get("bos_token") == "<|begin_of_text|>" and tc.get("eos_token") == "<|eot_id|>" and tc.get("add_bos_token") is True
          and tc.get("chat_template") == "{{ messages }}", "GGUF -> HF: tokenizer_config.json is %s" % tc)

    again = os.path.join(work, "bpe-back.gguf")
    run([args.lmforge, "convert", back, again, "--outtype", "f32", "-q", "--force"], timeout=300)
    first, info1 = tokenizer_keys(args.lmforge, gguf)
    second, info2 = tokenizer_keys(args.lmforge, again)
    check(sorted(first) == sorted(second), "GGUF -> HF -> GGUF: tokenizer keys %s became %s" % (sorted(first), sorted(second)))
    for k in first:
        check(first[k] == second[k], "GGUF -> HF -> GGUF: %s changed" % k)
    print("GGUF -> HF -> GGUF: %d tokenizer keys identical (%s)" % (len(first), ", ".join(sorted(first))), flush=True)

    for info, what in ((info1, "the GGUF"), (info2, "the round-tripped GGUF"), (None, "the written folder")):
        if info is None:
            from common import lmforge_inspect
            info = lmforge_inspect(args.lmforge, back)
        t = info.get("tokenizer", {})
        want = {"family": "byte-level BPE", "pre_tokenizer": "llama-bpe", "bos_id": 262, "eos_id": 263, "add_bos": True}
        for k, v in want.items():
            check(t.get(k) == v, "inspect %s: tokenizer %s is %r, expected %r (%s)" % (what, k, t.get(k), v, t))
        check(263 in t.get("eog_ids", []), "inspect %s: eog_ids %s lack 263" % (what, t.get("eog_ids")))
    text = run([args.lmforge, "inspect", back]).stdout.decode()
    check("byte-level BPE (llama-bpe)" in text and "bos 262, eos 263" in text and "add_bos yes" in text,
          "inspect's text output does not name the tokenizer: %s" % text[:400])

    js_lines = [s for s in lines if "\ufeff" not in s] + ["the <tool> the<tool>in", "<|eot_id|> marks a turn"]
    path = os.path.join(work, "back-lines.json")
    write_json(path, js_lines)
    want = node("bpe_tokenizers_js.mjs", os.path.join(back, "tokenizer.json"), path)
    compare("GGUF -> HF: written tokenizer.json, tokenizers.js vs lmforge", js_lines,
            lmforge_lines(args.lmforge, back, js_lines, work, "back-folder", ["--parse-special"]), want)


def check_second_eos(args, work):
    """A generation_config.json eos list whose second id is a plain token the model generates."""
    from common import PROMPTS
    from check_llama_probs import lmforge_run_json
    n = 24
    folder = os.path.join(work, "eos-folder")
    bos, eot = tiny_bpe_folder(args.fixtures, folder)

    def set_eos(ids):
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        cfg["eos_token_id"] = ids[0]
        write_json(os.path.join(folder, "config.json"), cfg)
        write_json(os.path.join(folder, "generation_config.json"), {"bos_token_id": bos, "eos_token_id": ids})

    set_eos([eot])
    plain = os.path.join(work, "eos-one.gguf")
    run([args.lmforge, "convert", folder, plain, "--outtype", "f32", "-q", "--force"], timeout=300)
    prompt = PROMPTS[0]
    greedy = [t["token"] for t in lmforge_run_json(args.lmforge, plain, prompt, n)]
    # The second EOS: the first plain byte-level token (below the added ones) that appears after
    # the first steps and not before.
    k = next((i for i in range(3, len(greedy)) if greedy[i] < bos and greedy[i] not in greedy[:i]), None)
    check(k is not None, "second EOS: the greedy output %s has no plain token to stop on" % greedy)
    second = greedy[k]

    set_eos([eot, second])
    gguf = os.path.join(work, "eos-two.gguf")
    run([args.lmforge, "convert", folder, gguf, "--outtype", "f32", "-q", "--force"], timeout=300)
    keys, _ = tokenizer_keys(args.lmforge, gguf)
    check(keys.get("tokenizer.ggml.eos_token_id") == eot and keys.get("tokenizer.ggml.eot_token_id") == second,
          "second EOS: the GGUF has eos %s, eot %s; expected %d, %d" % (keys.get("tokenizer.ggml.eos_token_id"),
                                                                        keys.get("tokenizer.ggml.eot_token_id"), eot, second))
    req = os.path.join(work, "eos-two.request.json")
    write_json(req, {"prompts": [prompt], "generate": n, "probabilities": False})
    theirs = node("llama_cpp.mjs", gguf, req)
    check(second in theirs["eog"] and eot in theirs["eog"], "second EOS: llama.cpp's end-of-generation set %s lacks %d or %d"
          % (theirs["eog"], eot, second))
    want = theirs["results"][0]["greedy"]
    cut = next((i for i, t in enumerate(want) if t in theirs["eog"]), len(want))
    got = [t["token"] for t in lmforge_run_json(args.lmforge, gguf, prompt, n)]
    check(got == greedy[:k], "second EOS: lmforge run gives %s, expected it to stop before %d: %s" % (got, second, greedy[:k]))
    check(got == want[:cut], "second EOS: lmforge run gives %s, llama.cpp's greedy up to its first EOG %s" % (got, want[:cut]))
    print("second EOS: generation_config.json [%d, %d]: eot_token_id %d; lmforge and llama.cpp stop after %d tokens"
          % (eot, second, second, len(got)), flush=True)

    back = os.path.join(work, "eos-back")
    run([args.lmforge, "convert", gguf, back, "-q", "--force"], timeout=300)
    with open(os.path.join(back, "generation_config.json"), encoding="utf-8") as f:
        gen = json.load(f)
    check(gen.get("eos_token_id") == [eot, second], "GGUF -> HF: generation_config.json eos_token_id is %s, expected %s"
          % (gen.get("eos_token_id"), [eot, second]))


if __name__ == "__main__":
    main_wrapper("check_bpe_tokenizer", main)
