#!/usr/bin/python3
"""`lmforge embed` on a LLaMA-family model (the demo model) against llama.cpp's embeddings
through node-llama-cpp (llama_embed.mjs), like with like.

How llama.cpp embeds a llama GGUF: without `llama.pooling_type` its context pools nothing, and
node-llama-cpp's LlamaEmbeddingContext returns the LAST token's embedding, i.e. its hidden state
after the output norm, not normalized (AddonContext::GetEmbedding: llama_get_embeddings_ith(-1)).
So:
  last: `lmforge embed --pooling last --no-normalize` vs getEmbeddingFor(ids);
  mean: `lmforge embed --pooling mean --no-normalize` vs the mean over k of getEmbeddingFor(ids[:k])
        (attention is causal, so the prefix's last state is token k's state in the whole text);
  normalized (the default): the same vectors divided by their norms.
Both sides get the same ids (lmforge tokenize, BOS first); llama.cpp's own tokenization of the
prompts must equal them too. The demo folder is converted to an f32 GGUF first (what llama.cpp
reads). Cosine >= --min-cos per input and max |diff| of normalized vectors <= --max-abs.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, main_wrapper, run, run_node  # noqa: E402

PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time",
    "a",
    "In the beginning the Universe was created. This has made a lot of people very angry "
    "and been widely regarded as a bad move.",
    "Numbers 12345 and names like Zoë, Ångström; punctuation!?",
]


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--model", required=True, help="a LLaMA-family Hugging Face folder (models/demo)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--min-cos", type=float, default=0.9999)
    p.add_argument("--max-abs", type=float, default=2e-4)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)

    def body():
        gguf = os.path.join(args.workdir, "model-f32.gguf")
        run([args.lmforge, "convert", args.model, gguf, "--outtype", "f32"], timeout=300)
        textfile = os.path.join(args.workdir, "prompts.txt")
        with open(textfile, "w", encoding="utf-8") as f:
            f.write("\n".join(PROMPTS) + "\n")
        ids = []
        for prompt in PROMPTS:
            r = run([args.lmforge, "tokenize", "-m", gguf, "-p", prompt, "--json"])
            ids.append(json.loads(r.stdout)["ids"])
        req = os.path.join(args.workdir, "request.json")
        with open(req, "w") as f:
            json.dump({"prompts": PROMPTS, "ids": ids}, f)
        ref = run_node("llama_embed.mjs", [gguf, req], timeout=600)
        for i, res in enumerate(ref["results"]):
            check(res["tokens"] == ids[i], "prompt %d: llama.cpp tokenizes as %s, lmforge as %s" % (i, res["tokens"], ids[i]))

        for model in (gguf, args.model):  # the GGUF llama.cpp read, and the folder it came from
            for pooling in ("last", "mean"):
                for normalize in (False, True):
                    cmd = [args.lmforge, "embed", "-m", model, "-f", textfile, "--lines", "--json",
                           "--pooling", pooling, "-t", "2"]
                    if not normalize:
                        cmd.append("--no-normalize")
                    out = json.loads(run(cmd, timeout=300).stdout)
                    check(out["dim"] == ref["n_embd"], "dim %d, llama.cpp %d" % (out["dim"], ref["n_embd"]))
                    worst, worst_abs = 1.0, 0.0
                    for i, res in enumerate(ref["results"]):
                        r = np.array(res["last"] if pooling == "last" else np.mean(res["prefixes"], axis=0))
                        if normalize:
                            r = r / np.linalg.norm(r)
                        o = np.array(out["embeddings"][i])
                        c = cosine(o, r)
                        d = float(np.abs(o - r).max()) / (1.0 if normalize else float(np.abs(r).max()))
                        worst, worst_abs = min(worst, c), max(worst_abs, d)
                        label = "%s %s%s prompt %d" % (os.path.basename(model), pooling,
                                                       "" if normalize else " --no-normalize", i)
                        check(c >= args.min_cos, "%s: cosine %.8f < %g" % (label, c, args.min_cos))
                        check(d <= args.max_abs, "%s: max |diff| %.3g > %g" % (label, d, args.max_abs))
                    print("  %-40s 1 - min cosine %.2e  max |diff| %.2e" % (
                        "%s %s%s" % (os.path.basename(model), pooling, "" if normalize else " --no-normalize"),
                        1 - worst, worst_abs), flush=True)
        # The two poolings really differ (the comparison could tell them apart).
        r_last = np.array(ref["results"][0]["last"])
        r_mean = np.mean(ref["results"][0]["prefixes"], axis=0)
        check(cosine(r_last, r_mean) < args.min_cos, "last and mean pooling agree: the check cannot tell them apart")
        print("  self-test: last vs mean of prompt 0: cosine %.4f" % cosine(r_last, r_mean), flush=True)

    main_wrapper("check_llama_embed", body)


if __name__ == "__main__":
    main()
