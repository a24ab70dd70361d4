#!/bin/sh
# Seeds bert_folder_fuzz and bert_gguf_fuzz. bert_folder_fuzz: config.json, modules.json, 1_Pooling/config.json and a tensor list of
# a valid tiny BERT, joined by the harness's "\n\0\n" marker (tests/fuzz/bert_folder_fuzz.cpp).
set -eu
out=$2
mkdir -p "$out/bert_folder"
/usr/bin/python3 - "$out/bert_folder" <<'PY'
import json, os, sys
cfg = {"model_type": "bert", "hidden_act": "gelu", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
       "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2,
       "layer_norm_eps": 1e-12}
modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
           {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
           {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
pooling = {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
h, ff = 8, 16
t = {"embeddings.word_embeddings.weight": [30, h], "embeddings.position_embeddings.weight": [16, h],
     "embeddings.token_type_embeddings.weight": [2, h], "embeddings.LayerNorm.weight": [h],
     "embeddings.LayerNorm.bias": [h]}
p = "encoder.layer.0."
for n, s in (("attention.self.query", [h, h]), ("attention.self.key", [h, h]), ("attention.self.value", [h, h]),
             ("attention.output.dense", [h, h]), ("intermediate.dense", [ff, h]), ("output.dense", [h, ff])):
    t[p + n + ".weight"] = s
    t[p + n + ".bias"] = [s[0]]
for n in ("attention.output.LayerNorm", "output.LayerNorm"):
    t[p + n + ".weight"] = [h]
    t[p + n + ".bias"] = [h]
sep = b"\n\x00\n"
parts = [json.dumps(x).encode() for x in (cfg, modules, pooling, t)]
with open(os.path.join(sys.argv[1], "valid"), "wb") as f:
    f.write(sep.join(parts))
with open(os.path.join(sys.argv[1], "prefixed"), "wb") as f:
    f.write(sep.join(parts[:3] + [json.dumps({"bert." + k: v for k, v in t.items()}).encode()]))
PY
# Seeds bert_gguf_fuzz with a BERT GGUF converted from a tiny random folder (when lmforge is given).
lmforge=${3:-}
mkdir -p "$out/bert_gguf"
if [ -n "$lmforge" ]; then
    tmp=$(mktemp -d)
    /usr/bin/python3 "$(dirname "$0")/../../tools/make_bert_fixtures.py" "$tmp/fx" >/dev/null &&
        "$lmforge" convert "$tmp/fx/bert-st" "$out/bert_gguf/bert-st-f16.gguf" -q --force || true
    rm -rf "$tmp"
fi
