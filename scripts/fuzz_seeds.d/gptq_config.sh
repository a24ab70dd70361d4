#!/bin/sh
# Seeds for tests/fuzz/gptq_config_fuzz.cpp: GPTQ settings as AutoGPTQ, GPTQModel and
# transformers write them (every synonym the reader accepts appears once).
set -eu
out=$2
mkdir -p "$out/gptq_config"
cat > "$out/gptq_config/autogptq.json" <<'J'
{"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": true, "static_groups": false, "sym": true, "true_sequential": true, "model_name_or_path": null, "model_file_base_name": "gptq_model-4bit-128g", "quant_method": "gptq", "checkpoint_format": "gptq"}
J
cat > "$out/gptq_config/gptqmodel.json" <<'J'
{"bits": 3, "group_size": -1, "desc_act": false, "sym": false, "format": "gptq_v2", "meta": {"quantizer": ["gptqmodel:1.0"]}, "lm_head": false}
J
cat > "$out/gptq_config/synonyms.json" <<'J'
{"w_bit": 8, "q_group_size": 32, "wbits": 8, "groupsize": 32, "quant_method": "gptq"}
J
