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

    main_wrapper("check_bert_llama_cpp", body)


if __name__ == "__main__":
    main()
