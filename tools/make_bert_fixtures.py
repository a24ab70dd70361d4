#!/usr/bin/env python3
"""Tiny random BERT folders for the embedding tests: make_bert_fixtures.py OUTDIR

Writes, with Debian's python3-torch only (no transformers):
  bert-st/    sentence-transformers layout: config.json, vocab.txt, tokenizer_config.json,
              model.safetensors (F32, BertModel names + a pooler the encoder ignores),
              modules.json, 1_Pooling/config.json (mean), 2_Normalize
  bert-bin/   the same weights as pytorch_model.bin with BertForMaskedLM's "bert." prefix and
              an MLM head ("cls."), no sentence-transformers files (default: mean pooling)
  bert-f16/   the same weights in F16 safetensors, CLS pooling
  manifest.json  what each folder is
The weights are random with a larger spread than BERT's initialisation (0.02) so that every
layer changes the result. A stamp holding a hash of this script lets a repeated run return at
once.
"""

import hashlib
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import safetensors_bytes, write, write_json  # noqa: E402

SEED = 4711
CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 64,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": "float32",
}
WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they which "
         "one you were her all she there would their we him been has when who will more no if out so said what "
         "up its about into than them can only other new some could time these two may then do first any my "
         "now such like our over man me even most made after also did many before must through back years "
         "where much your way well down should because each just those people how too little state good very "
         "make world still own see men work long get here between both life being under never day same another "
         "know while last might us great old year off come since against go came right used take three "
         "embedding vector model index search text token hello quick brown fox jumps lazy dog").split()


def vocab_tokens():
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    toks += list(".,;:!?'\"()-")
    toks += [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    toks += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)] + ["##" + str(d) for d in range(10)]
    toks += ["##s", "##ed", "##ing", "##ly", "##er"]
    seen = set()
    out = []
    for t in toks + WORDS:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def random_bert(cfg, gen):
    h, ff, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]

    def r(*shape, std=0.2):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * std

    sd = {
        "embeddings.word_embeddings.weight": r(cfg["vocab_size"], h, std=0.5),
        "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], h, std=0.5),
        "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], h, std=0.5),
        "embeddings.LayerNorm.weight": 1 + r(h, std=0.1),
        "embeddings.LayerNorm.bias": r(h, std=0.1),
    }
    for i in range(L):
        p = "encoder.layer.%d." % i
        for name, (o, n) in (("attention.self.query", (h, h)), ("attention.self.key", (h, h)),
                             ("attention.self.value", (h, h)), ("attention.output.dense", (h, h)),
                             ("intermediate.dense", (ff, h)), ("output.dense", (h, ff))):
            sd[p + name + ".weight"] = r(o, n, std=1.0 / n ** 0.5)
            sd[p + name + ".bias"] = r(o, std=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            sd[p + name + ".weight"] = 1 + r(h, std=0.1)
            sd[p + name + ".bias"] = r(h, std=0.1)
    return sd


def common_files(d, cfg, vocab):
    write_json(os.path.join(d, "config.json"), cfg)
    write(os.path.join(d, "vocab.txt"), ("\n".join(vocab) + "\n").encode())
    write_json(os.path.join(d, "tokenizer_config.json"),
               {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"})


def sentence_transformers_files(d, mode):
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": CONFIG["hidden_size"],
        "pooling_mode_cls_token": mode == "cls", "pooling_mode_mean_tokens": mode == "mean",
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)


def main():
    outdir = sys.argv[1]
    with open(os.path.abspath(__file__), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest() + " torch " + torch.__version__
    stamp_path = os.path.join(outdir, ".stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print("make_bert_fixtures: %s is up to date" % outdir)
        return
    tmp = outdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    vocab = vocab_tokens()
    cfg = dict(CONFIG, vocab_size=len(vocab) + 3)  # a few embedding rows no token uses, as real models have
    sd = random_bert(cfg, torch.Generator().manual_seed(SEED))
    h = cfg["hidden_size"]

    d = os.path.join(tmp, "bert-st")
    common_files(d, cfg, vocab)
    pooled = dict(sd)
    pooled["pooler.dense.weight"] = torch.zeros(h, h)
    pooled["pooler.dense.bias"] = torch.zeros(h)
    write(os.path.join(d, "model.safetensors"), safetensors_bytes(pooled))
    sentence_transformers_files(d, "mean")

    d = os.path.join(tmp, "bert-bin")
    common_files(d, cfg, vocab)
    mlm = {"bert." + k: v for k, v in sd.items()}
    mlm["cls.predictions.bias"] = torch.zeros(cfg["vocab_size"])
    mlm["cls.predictions.transform.dense.weight"] = torch.zeros(h, h)
    torch.save(mlm, os.path.join(d, "pytorch_model.bin"))

    d = os.path.join(tmp, "bert-f16")
    common_files(d, dict(cfg, torch_dtype="float16"), vocab)
    write(os.path.join(d, "model.safetensors"), safetensors_bytes({k: v.half() for k, v in sd.items()}))
    sentence_transformers_files(d, "cls")

    write_json(os.path.join(tmp, "manifest.json"), {
        "bert-st": {"weights": "f32", "prefix": "", "pooling": "mean"},
        "bert-bin": {"weights": "f32", "prefix": "bert.", "pooling": "mean"},
        "bert-f16": {"weights": "f16", "prefix": "", "pooling": "cls"},
    })
    with open(os.path.join(tmp, ".stamp"), "w") as f:
        f.write(stamp)
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)
    print("make_bert_fixtures: wrote 3 BERT folders to %s" % outdir)


if __name__ == "__main__":
    main()
