#!/usr/bin/python3
"""The committed embedding model (models/embed) loads and embeds as its weights say.

  - `lmforge tokenize --lines` gives, for every text, the ids of the WordPiece tokenizer the
    model was trained with (tools/train_embedder.py's Python twin of BertTokenizer; lmforge's
    own tokenizer is checked against Hugging Face's by oracle.wordpiece): lmforge feeds the
    model what it learned on.
  - `lmforge embed --lines --json` without --pooling uses the folder's pooling (mean, from
    1_Pooling/config.json), and each vector matches an independent float64 PyTorch BertModel
    (bert_reference.py) of the committed F16 weights: cosine >= --min-cos (0.9999, the issue's
    bound) and every element within --max-abs (2e-5), with 1 and 2 threads.
  - Self-test: the reference with 1e-2 noise on one weight matrix falls below --min-cos for
    some text (the check sees errors of that size).
"""

import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from bert_reference import BertReference, pool  # noqa: E402
from check_bert import compare, cosine  # noqa: E402
from common import check, load_hf_config, load_hf_state_dict, main_wrapper, run  # noqa: E402
from train_embedder import WordPiece  # noqa: E402

TEXTS = [
    "How does lmforge avoid leaving half-written output files after a crash?",
    "The jury said it did find that many of Georgia's registration and election laws are outmoded.",
    "",
    "embedding",
    "Résumé of the naïve café owner: 3.5% growth in 1961 (see table 2); \"no comment\", he said.",
    "Every file is indexed in one transaction: kill -9 at any moment leaves a database that opens, "
    "passes PRAGMA integrity_check, and holds each file either fully or not at all; the next run "
    "finishes the job. " * 3,
]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--model", required=True, help="the committed folder, models/embed")
    p.add_argument("--workdir", required=True)
    p.add_argument("--min-cos", type=float, default=0.9999)
    p.add_argument("--max-abs", type=float, default=2e-5)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)

    def body():
        folder = args.model
        vocab = open(os.path.join(folder, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
        wp = WordPiece(vocab)
        textfile = os.path.join(args.workdir, "texts.txt")
        with open(textfile, "w", encoding="utf-8") as f:
            f.write("\n".join(TEXTS) + "\n")
        lines = run([args.lmforge, "tokenize", "-m", folder, "-f", textfile, "--lines"]).stdout.decode().splitlines()
        ours = [json.loads(l) for l in lines]
        check(len(ours) == len(TEXTS), "%d token lists for %d texts" % (len(ours), len(TEXTS)))
        for i, (text, got) in enumerate(zip(TEXTS, ours)):
            want = wp.encode(text, 10 ** 6)[1:-1]
            check(got == want, "text %d: lmforge ids %s, training tokenizer %s" % (i, got[:20], want[:20]))
        ids = [[wp.cls] + s + [wp.sep] for s in ours]
        check(max(len(s) for s in ids) > 128, "the long text should pass the training lengths")
        print("  tokenize: ids identical to the training tokenizer's for %d texts" % len(TEXTS), flush=True)

        cfg = load_hf_config(folder)
        sd = {k: v.float() for k, v in load_hf_state_dict(folder).items()}
        refs = [pool(h, "mean", True) for h in BertReference(sd, cfg).hidden_states(ids)]
        for threads in (1, 2):
            out = json.loads(run([args.lmforge, "embed", "-m", folder, "-f", textfile, "--lines", "--json",
                                  "-t", str(threads)]).stdout)
            check(out["pooling"] == "mean", "default pooling %s, the folder says mean" % out["pooling"])
            check(out["dim"] == cfg["hidden_size"], "dim %d" % out["dim"])
            worst, worst_abs = compare(out["embeddings"], refs, "mean", args.min_cos, args.max_abs,
                                       "models/embed -t %d" % threads)
            print("  embed -t %d: 1 - min cosine %.2e, max |diff| %.2e" % (threads, 1 - worst, worst_abs), flush=True)

        key = "encoder.layer.1.output.dense.weight"
        sd[key] = sd[key] + 1e-2 * torch.randn(sd[key].shape, generator=torch.Generator().manual_seed(1))
        bad = [pool(h, "mean", True) for h in BertReference(sd, cfg).hidden_states(ids)]
        worst = min(cosine(b, r) for b, r in zip(bad, refs))
        check(worst < args.min_cos, "self-test: 1e-2 weight noise kept min cosine %.9f >= %g" % (worst, args.min_cos))
        print("  self-test: 1e-2 weight noise gives 1 - min cosine %.2e" % (1 - worst), flush=True)
    main_wrapper("check_embed_model", body)


if __name__ == "__main__":
    main()
