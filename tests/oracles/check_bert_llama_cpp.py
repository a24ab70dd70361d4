#!/usr/bin/python3
"""`lmforge convert` of BERT folders to GGUF "bert", read by llama.cpp (node-llama-cpp's
embedding context, llama_embed.mjs): llama.cpp must load our file, tokenize the texts as lmforge
tokenizes the folder ([CLS] ... [SEP]; llama.cpp's WPM tokenizer over our vocabulary mapping),
and embed them as lmforge embeds the folder: cosine >= --min-cos (0.999, the issue's bound)
per text, max |difference| of normalized vectors printed.

What llama.cpp returns: with bert.pooling_type (written from the sentence-transformers Pooling
module) the pooled vector, unnormalized; without it (bert-bin, no modules.json, as llama.cpp's
converter writes such a folder) it pools nothing and node-llama-cpp returns the last token's
state ([SEP]'s). So lmforge runs with --no-normalize and --pooling the file's (mean, cls) or
last. f32 and f16 GGUFs are both read; the f16 one is compared with the folder's f16-rounded
weights only through the bound.

lmforge also runs from the GGUF it wrote (`embed` and `tokenize -m X.gguf`, and `inspect`
names its tokenizer WordPiece with the [CLS]/[SEP] ids the texts get): the same ids as the
folder, embeddings equal to the folder's within --max-abs-f32 (f32 file: the same weights) and
within llama.cpp's bound for f16, and against llama.cpp as above.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, main_wrapper, run, run_node  # noqa: E402

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "embedding",
    "After many years the old man came back to the world where he was made, and he said: what would we know?",
    "search, index; token! (vector) - model?",
    "The foxes jumped quickly, lazily!",   # ## continuations
    "Café naïve Zoë xyzzy 42",              # accents stripped, letters, digits
]
POOLING = {"bert-st": "mean", "bert-bin": "last", "bert-f16": "cls"}


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--min-cos", type=float, default=0.999)
    p.add_argument("--max-abs-f32", type=float, default=1e-6)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)

    def body():
        textfile = os.path.join(args.workdir, "texts.txt")
        with open(textfile, "w") as f:
            f.write("\n".join(TEXTS) + "\n")
        for name, pooling in POOLING.items():
            folder = os.path.join(args.fixtures, name)
            ids = [json.loads(run([args.lmforge, "tokenize", "-m", folder, "-p", t, "--json"]).stdout)["ids"]
                   for t in TEXTS]
            out = json.loads(run([args.lmforge, "embed", "-m", folder, "-f", textfile, "--lines", "--json",
                                  "--no-normalize", "--pooling", pooling]).stdout)
            for outtype in ("f32", "f16"):
                gguf = os.path.join(args.workdir, "%s-%s.gguf" % (name, outtype))
                run([args.lmforge, "convert", folder, gguf, "--outtype", outtype, "--force"])
                req = os.path.join(args.workdir, "request.json")
                with open(req, "w") as f:
                    json.dump({"prompts": TEXTS, "ids": ids, "prefixes": False}, f)
                ref = run_node("llama_embed.mjs", [gguf, req], timeout=600)
                check(ref["n_embd"] == out["dim"], "%s: llama.cpp n_embd %d, lmforge dim %d" % (gguf, ref["n_embd"], out["dim"]))
                worst, worst_abs = 1.0, 0.0
                for i, res in enumerate(ref["results"]):
                    # llama.cpp's tokenize() gives [CLS] ... without [SEP]; the embedding context adds it.
                    theirs = res["tokens"] + ([ids[i][-1]] if res["tokens"][-1:] != ids[i][-1:] else [])
                    check(theirs == ids[i], "%s text %d: llama.cpp tokenizes as %s, lmforge as %s"
                          % (name, i, theirs, ids[i]))
                    r = np.array(res["last"])
                    o = np.array(out["embeddings"][i])
                    c = cosine(o, r)
                    worst = min(worst, c)
                    worst_abs = max(worst_abs, float(np.abs(o / np.linalg.norm(o) - r / np.linalg.norm(r)).max()))
                    check(c >= args.min_cos, "%s %s text %d: cosine %.6f < %g" % (name, outtype, i, c, args.min_cos))
                print("  %-8s %-3s pooling %-4s 1 - min cosine %.2e  max |diff| (normalized) %.2e"
                      % (name, outtype, pooling, 1 - worst, worst_abs), flush=True)
                # lmforge from its own GGUF.
                gids = [json.loads(run([args.lmforge, "tokenize", "-m", gguf, "-p", t, "--json"]).stdout)["ids"]
                        for t in TEXTS]
                check(gids == ids, "%s: tokenize -m GGUF gives %s, the folder %s" % (gguf, gids, ids))
                # inspect names the tokenizer: WordPiece, with the [CLS]/[SEP] ids every text gets.
                tok = json.loads(run([args.lmforge, "inspect", gguf, "--json"]).stdout).get("tokenizer", {})
                check(tok.get("family") == "WordPiece" and tok.get("cls_id") == ids[0][0] and tok.get("sep_id") == ids[0][-1],
                      "%s: inspect's tokenizer is %s, expected WordPiece with [CLS] %d, [SEP] %d" % (gguf, tok, ids[0][0], ids[0][-1]))
                own = json.loads(run([args.lmforge, "embed", "-m", gguf, "-f", textfile, "--lines", "--json",
                                      "--no-normalize", "--pooling", pooling]).stdout)
                worst_own, worst_llama = 0.0, 1.0
                for i, res in enumerate(ref["results"]):
                    o = np.array(own["embeddings"][i])
                    f = np.array(out["embeddings"][i])
                    d = float(np.abs(o - f).max())
                    worst_own = max(worst_own, d)
                    worst_llama = min(worst_llama, cosine(o, np.array(res["last"])))
                    if outtype == "f32":
                        check(d <= args.max_abs_f32, "%s text %d: embed -m GGUF differs from the folder by %.3g"
                              % (gguf, i, d))
                    check(cosine(o, f) >= args.min_cos, "%s text %d: embed -m GGUF vs folder cosine %.6f"
                          % (gguf, i, cosine(o, f)))
                check(worst_llama >= args.min_cos, "%s: embed -m GGUF vs llama.cpp cosine %.6f" % (gguf, worst_llama))
                print("  %-8s %-3s lmforge from the GGUF: max |diff| vs folder %.2e, 1 - min cosine vs llama.cpp %.2e"
                      % (name, outtype, worst_own, 1 - worst_llama), flush=True)

    main_wrapper("check_bert_llama_cpp", body)


if __name__ == "__main__":
    main()
