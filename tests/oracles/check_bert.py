#!/usr/bin/python3
"""`lmforge embed` on BERT folders against an independent float64 PyTorch BertModel
(bert_reference.py), and `lmforge embed`/`tokenize` refusing bad BERT input with one line.

Fixtures: tools/make_bert_fixtures.py (bert-st: safetensors, sentence-transformers mean
pooling; bert-bin: pytorch_model.bin with the "bert." prefix and an MLM head, default mean;
bert-f16: F16 weights, CLS pooling). Per folder, a batch of texts of different lengths
(empty, one word, long) is embedded in one call with --lines and every pooling
(mean/cls/last/none), normalized and not, with 1 and 3 threads; the reference gets the same
token ids (`lmforge tokenize --lines`, itself checked against Hugging Face's tokenizer by
oracle.wordpiece) wrapped in [CLS]/[SEP], evaluates them padded and masked, and each input's
cosine must be >= --min-cos (0.9999, the issue's bound) and, for normalized vectors, every
element within --max-abs (2e-5; float32 arithmetic gives ~1e-7 here). Round trip: each
folder -> `convert` f32 GGUF -> `convert` folder gives the original's ids and vectors, bit for
bit (the GGUF itself too). Self-test: a reference
with one weight matrix perturbed by 1e-3 noise must exceed --max-abs, and by 1e-2 noise fall
below --min-cos, for some input (the check can see errors of those sizes).
"""

import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_reference import BertReference, pool  # noqa: E402
from common import CheckFailed, check, load_hf_config, load_hf_state_dict, main_wrapper, run  # noqa: E402
import argparse  # noqa: E402

TEXTS = [
    "hello world",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "embedding",
    "After many years the old man came back to the world where he was made, and he said: "
    "what would we know of life if we had never been there? These people still work each day "
    "in the same state, and their own time is little, but good.",
    "search, index; token! (vector) - model?",
    "Two men, three years: one day.",
]


def lmforge_embed(lmforge, folder, textfile, pooling, normalize, threads):
    cmd = [lmforge, "embed", "-m", folder, "-f", textfile, "--lines", "--json", "--pooling", pooling,
           "-t", str(threads)]
    if not normalize:
        cmd.append("--no-normalize")
    out = json.loads(run(cmd).stdout)
    check(out["pooling"] == pooling and out["dim"] > 0, "json header: %r" % {k: out[k] for k in ("model", "dim", "pooling")})
    return out


def wordpiece_ids(lmforge, folder, textfile, cls_id, sep_id):
    r = run([lmforge, "tokenize", "-m", folder, "-f", textfile, "--lines"])
    lines = [json.loads(l) for l in r.stdout.decode().splitlines()]
    return [[cls_id] + ids + [sep_id] for ids in lines]


def cosine(a, b):
    a = a.reshape(-1).to(torch.float64)
    b = b.reshape(-1).to(torch.float64)
    na, nb = a.norm(), b.norm()
    if na == 0 and nb == 0:
        return 1.0
    return float(a @ b / (na * nb))


def compare(ours, ref_vectors, pooling, min_cos, max_abs, label):
    worst = 1.0
    worst_abs = 0.0
    for i, (o, r) in enumerate(zip(ours, ref_vectors)):
        o = torch.tensor(o, dtype=torch.float64)
        if pooling == "none":
            check(o.shape == r.shape, "%s input %d: shape %s, reference %s" % (label, i, tuple(o.shape), tuple(r.shape)))
            cs = [cosine(o[t], r[t]) for t in range(r.shape[0])]
            c = min(cs)
        else:
            check(o.shape == r.shape, "%s input %d: dim %s, reference %s" % (label, i, tuple(o.shape), tuple(r.shape)))
            c = cosine(o, r)
        worst = min(worst, c)
        worst_abs = max(worst_abs, float((o - r).abs().max()))
        check(c >= min_cos, "%s input %d: cosine %.8f < %g" % (label, i, c, min_cos))
        if max_abs is not None:
            d = float((o - r).abs().max())
            check(d <= max_abs, "%s input %d: max |difference| %.3g > %g" % (label, i, d, max_abs))
    return worst, worst_abs


def check_folder(args, folder, name, work):
    cfg = load_hf_config(folder)
    sd = load_hf_state_dict(folder)
    ref = BertReference({k: v.float() if v.dtype == torch.float16 else v for k, v in sd.items()}, cfg)
    vocab = open(os.path.join(folder, "vocab.txt"), encoding="utf-8").read().split("\n")
    textfile = os.path.join(work, "texts.txt")
    with open(textfile, "w", encoding="utf-8") as f:
        f.write("\n".join(TEXTS) + "\n")
    ids = wordpiece_ids(args.lmforge, folder, textfile, vocab.index("[CLS]"), vocab.index("[SEP]"))
    check(len(ids) == len(TEXTS), "%s: %d token lists for %d texts" % (name, len(ids), len(TEXTS)))
    lengths = sorted(len(s) for s in ids)
    check(lengths[0] == 2 and lengths[-1] > 40, "%s: texts should range from [CLS][SEP] to long, got %s" % (name, lengths))
    hidden = ref.hidden_states(ids)
    for pooling in ("mean", "cls", "last", "none"):
        for normalize in (True, False):
            for threads in (1, 3):
                out = lmforge_embed(args.lmforge, folder, textfile, pooling, normalize, threads)
                check(len(out["embeddings"]) == len(TEXTS), "%s: %d embeddings" % (name, len(out["embeddings"])))
                refs = [pool(h, pooling, normalize) for h in hidden]
                label = "%s %s%s -t %d" % (name, pooling, "" if normalize else " --no-normalize", threads)
                worst, worst_abs = compare(out["embeddings"], refs, pooling, args.min_cos,
                                           args.max_abs if normalize else None, label)
                print("  %-36s 1 - min cosine %.2e  max |diff| %.2e" % (label, 1 - worst, worst_abs), flush=True)
    # The model's own pooling (no --pooling) is what the folder says.
    out = json.loads(run([args.lmforge, "embed", "-m", folder, "-p", "hello", "--json"]).stdout)
    expected = {"bert-st": "mean", "bert-bin": "mean", "bert-f16": "cls"}[name]
    check(out["pooling"] == expected, "%s: default pooling %s, expected %s" % (name, out["pooling"], expected))
    return ref, ids, hidden


def round_trip(args, folder, name, work):
    """folder -> f32 GGUF -> folder: the same ids and the same vectors, bit for bit."""
    gguf = os.path.join(work, name + ".gguf")
    back = os.path.join(work, name + "-back")
    run([args.lmforge, "convert", folder, gguf, "--outtype", "f32", "--force", "-q"])
    run([args.lmforge, "convert", gguf, back, "--force", "-q"])
    textfile = os.path.join(work, "texts.txt")
    for model in (gguf, back):
        for cmd in (["tokenize", "-f", textfile, "--lines"], ["embed", "-f", textfile, "--lines", "--json"]):
            a = run([args.lmforge] + cmd[:1] + ["-m", folder] + cmd[1:]).stdout.decode().replace(folder, "M")
            b = run([args.lmforge] + cmd[:1] + ["-m", model] + cmd[1:]).stdout.decode().replace(model, "M")
            check(a == b, "%s: `%s` on %s differs from the original folder" % (name, cmd[0], model))
    print("  %-36s folder -> GGUF -> folder: identical ids and vectors" % name, flush=True)


def index_with_bert(args, work):
    """`index -m BERT_FOLDER` + `ask --retrieve-only --mode vector`: each returned score is the
    cosine of `lmforge embed`'s vectors of the question and of the chunk's text (the index
    holds the model's embeddings), and an index of one model refuses another."""
    docs = os.path.join(work, "docs")
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "a.txt"), "w") as f:
        f.write("\n\n".join(TEXTS[2:] + ["the lazy dog was made of old world time", "hello quick brown fox"]) + "\n")
    db = os.path.join(work, "index.db")
    st = os.path.join(args.fixtures, "bert-st")
    run([args.lmforge, "index", "--db", db, "-m", st, docs, "--chunk-size", "120", "--chunk-overlap", "0", "-q"])
    question = "where is the quick brown fox"
    out = json.loads(run([args.lmforge, "ask", "--db", db, question, "--retrieve-only", "--json", "--mode", "vector",
                          "-k", "3"]).stdout)
    check(len(out["chunks"]) == 3, "ask returned %d chunks" % len(out["chunks"]))
    q = json.loads(run([args.lmforge, "embed", "-m", st, "-p", question, "--json"]).stdout)["embeddings"][0]
    for c in out["chunks"]:
        v = json.loads(run([args.lmforge, "embed", "-m", st, "-p", c["text"], "--json"]).stdout)["embeddings"][0]
        want = float(torch.tensor(q, dtype=torch.float64) @ torch.tensor(v, dtype=torch.float64))
        check(abs(c["score"] - want) < 1e-5, "chunk %r: index score %.7f, embed cosine %.7f" % (c["text"][:40], c["score"], want))
    r = run([args.lmforge, "index", "--db", db, "-m", os.path.join(args.fixtures, "bert-f16"), docs], check_rc=False)
    check(r.returncode == 1 and b"refusing to mix models" in r.stderr, "an index of bert-st accepted bert-f16: %r" % r.stderr[-300:])
    print("  index/ask with bert-st: scores are embed's cosines; another model refused", flush=True)


def self_test(args, folder, ids):
    """Weight changes of 1e-3 and 1e-2 must be visible to the two bounds."""
    cfg = load_hf_config(folder)
    good = [pool(h, "mean", True) for h in BertReference(load_hf_state_dict(folder), cfg).hidden_states(ids)]
    key = "encoder.layer.1.output.dense.weight"
    for noise in (1e-3, 1e-2):
        sd = load_hf_state_dict(folder)
        sd[key] = sd[key] + noise * torch.randn(sd[key].shape, generator=torch.Generator().manual_seed(1))
        bad = [pool(h, "mean", True) for h in BertReference(sd, cfg).hidden_states(ids)]
        worst = min(cosine(b, g) for b, g in zip(bad, good))
        diff = max(float((b - g).abs().max()) for b, g in zip(bad, good))
        if noise == 1e-3:
            check(diff > args.max_abs, "self-test: 1e-3 weight noise moved no element by more than %g (%.3g)"
                  % (args.max_abs, diff))
        else:
            check(worst < args.min_cos, "self-test: 1e-2 weight noise kept min cosine %.9f >= %g"
                  % (worst, args.min_cos))
        print("  self-test: %g weight noise gives 1 - min cosine %.2e, max |diff| %.2e" % (noise, 1 - worst, diff),
              flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--fixtures", required=True, help="directory written by tools/make_bert_fixtures.py")
    p.add_argument("--workdir", required=True)
    p.add_argument("--min-cos", type=float, default=0.9999)
    p.add_argument("--max-abs", type=float, default=2e-5)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)

    def body():
        for name in ("bert-st", "bert-bin", "bert-f16"):
            ref, ids, hidden = check_folder(args, os.path.join(args.fixtures, name), name, args.workdir)
            round_trip(args, os.path.join(args.fixtures, name), name, args.workdir)
        index_with_bert(args, args.workdir)
        self_test(args, os.path.join(args.fixtures, "bert-st"), ids)
    main_wrapper("check_bert", body)


if __name__ == "__main__":
    main()
