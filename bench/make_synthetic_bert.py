#!/usr/bin/python3
"""Writes a synthetic BERT sentence embedder (sentence-transformers folder), for benchmarks.

    make_synthetic_bert.py OUTDIR [--shape bert-base] [--vocab models/embed/vocab.txt]

BERT-base's shape by default: 12 layers, hidden 768, 12 heads, FFN 3072, 512 positions,
2 token types, vocab 30522 (~110M parameters), F32 weights in model.safetensors, mean pooling.
Speed does not depend on the values: matrices are N(0, 0.02), LayerNorm scales near 1, biases
small, so the activations stay in a sane range through the post-LN layers. The vocabulary is
the given vocab.txt (the bundled embedder's by default) padded with "[unusedN]" pieces to the
shape's size, so a text has the same token count in the synthetic model as in the bundled
one and the two models' numbers are per the same inputs.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "bert-base": dict(hidden=768, layers=12, heads=12, ffn=3072, vocab=30522, positions=512),
    "minilm": dict(hidden=384, layers=6, heads=12, ffn=1536, vocab=30522, positions=512),
}


def tensor_specs(s):
    h, f = s["hidden"], s["ffn"]
    out = [("embeddings.word_embeddings.weight", (s["vocab"], h), "matrix"),
           ("embeddings.position_embeddings.weight", (s["positions"], h), "matrix"),
           ("embeddings.token_type_embeddings.weight", (2, h), "matrix"),
           ("embeddings.LayerNorm.weight", (h,), "scale"),
           ("embeddings.LayerNorm.bias", (h,), "bias")]
    for i in range(s["layers"]):
        p = "encoder.layer.%d." % i
        for name, shape in [("attention.self.query", (h, h)), ("attention.self.key", (h, h)),
                            ("attention.self.value", (h, h)), ("attention.output.dense", (h, h)),
                            ("intermediate.dense", (f, h)), ("output.dense", (h, f))]:
            out += [(p + name + ".weight", shape, "matrix"), (p + name + ".bias", shape[:1], "bias")]
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"]:
            out += [(p + norm + ".weight", (h,), "scale"), (p + norm + ".bias", (h,), "bias")]
    return out


def values(shape, kind, rng):
    n = int(np.prod(shape))
    if kind == "matrix":
        v = rng.standard_normal(n, dtype=np.float32) * 0.02
    elif kind == "scale":
        v = 1.0 + rng.standard_normal(n, dtype=np.float32) * 0.05
    else:
        v = rng.standard_normal(n, dtype=np.float32) * 0.01
    return v.astype(np.float32).reshape(shape)


def write_safetensors(path, specs, rng):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        nbytes = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, shape, kind in specs:
            f.write(values(shape, kind, rng).tobytes())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--shape", default="bert-base", choices=sorted(SHAPES))
    ap.add_argument("--vocab", default=os.path.join(here, "..", "models", "embed", "vocab.txt"))
    a = ap.parse_args()
    s = SHAPES[a.shape]
    pieces = open(a.vocab, encoding="utf-8").read().split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    if len(pieces) > s["vocab"]:
        sys.exit("make_synthetic_bert: %s has %d pieces, more than the shape's %d" % (a.vocab, len(pieces), s["vocab"]))
    pieces += ["[unused%d]" % i for i in range(s["vocab"] - len(pieces))]
    os.makedirs(os.path.join(a.outdir, "1_Pooling"), exist_ok=True)
    with open(os.path.join(a.outdir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(pieces) + "\n")
    write_safetensors(os.path.join(a.outdir, "model.safetensors"), tensor_specs(s), np.random.default_rng(0))
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": s["vocab"],
        "hidden_size": s["hidden"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
        "intermediate_size": s["ffn"], "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": s["positions"], "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    files = {
        "config.json": config,
        "tokenizer_config.json": {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None,
                                  "tokenize_chinese_chars": True, "model_max_length": s["positions"],
                                  "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                  "cls_token": "[CLS]", "mask_token": "[MASK]"},
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}],
        "1_Pooling/config.json": {"word_embedding_dimension": s["hidden"], "pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    for name, obj in files.items():
        with open(os.path.join(a.outdir, name), "w") as f:
            json.dump(obj, f, indent=2)
    print("wrote", a.outdir, file=sys.stderr)


if __name__ == "__main__":
    main()
