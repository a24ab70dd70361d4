#!/usr/bin/python3
"""ONNX -> GGUF conversion on a 1.1B-shape (TinyLlama) synthetic export: throughput, peak RSS.

    onnx_convert_bench.py --lmforge build/lmforge --workdir /work/bench-work/onnx-1b \
        [--tokenizer build/fixtures/tokenizer/tokenizer.model] [--shape tinyllama]

Writes (once; reused when present) a synthetic export laid out as torch.onnx.export lays out a
LLaMA: f16 embeddings and norms under their parameter names, every Linear weight transposed to
[in, out] as "onnx::MatMul_N" consumed by a MatMul node named after its module, all values in
one external data file (model.onnx_data, as optimum saves models over 2 GB). The protobuf
structure is built with python3-onnx; the data file is streamed by hand (values repeat a
random block: speed does not depend on them). Then, one run each, page cache warmed first:
`cp` of the data file (the I/O floor), and `lmforge convert model.onnx out.gguf` (f16, which
transposes every MatMul weight back). Prints seconds, GB/s of input and peak RSS (ru_maxrss).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from convert_bench import run_measured  # noqa: E402  (time and peak RSS of one child)
from make_synthetic import SHAPES, tensor_specs  # noqa: E402

LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")



def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def write_export(d, shape, tokenizer):
    import onnx
    from onnx import TensorProto, helper
    s = SHAPES[shape]
    specs = tensor_specs(s)
    rng = np.random.default_rng(0)
    block = (rng.standard_normal(1 << 20, dtype=np.float32) * 0.02).astype(np.float16)
    inits, nodes, off = [], [], 0
    data_path = os.path.join(d, "model.onnx_data")
    with open(data_path + ".tmp", "wb") as f:
        for k, (name, sh) in enumerate(specs):
            linear = any(name.endswith(x + ".weight") for x in LINEAR)
            stored = (sh[1], sh[0]) if linear else sh
            n = int(np.prod(stored))
            pad = (-off) % 4096
            f.write(b"\0" * pad)
            off += pad
            reps = -(-n // block.size)
            f.write(np.tile(block, reps)[:n].tobytes())
            t = TensorProto()
            t.name = "onnx::MatMul_%d" % (1000 + k) if linear else name
            t.data_type = TensorProto.FLOAT16
            t.dims.extend(stored)
            t.data_location = TensorProto.EXTERNAL
            for key, v in (("location", "model.onnx_data"), ("offset", str(off)), ("length", str(n * 2))):
                e = t.external_data.add()
                e.key, e.value = key, v
            inits.append(t)
            off += n * 2
            if linear:
                module = name[:-len(".weight")]
                node = "/" + module.replace(".", "/").replace("layers/", "layers.") + "/MatMul"
                nodes.append(helper.make_node("MatMul", [module + "/in", t.name], [node + "_output_0"], name=node))
    os.rename(data_path + ".tmp", data_path)
    g = helper.make_graph(nodes, "torch_jit", [], [], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], producer_name="pytorch")
    m.ir_version = 7
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["hidden"],
              "intermediate_size": s["ffn"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
              "num_key_value_heads": s["kv_heads"], "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "vocab_size": s["vocab"], "tie_word_embeddings": False,
              "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16"}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(tokenizer, "rb") as src, open(os.path.join(d, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lmforge", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--shape", default="tinyllama", choices=sorted(SHAPES))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", "build", "fixtures", "tokenizer", "tokenizer.model"))
    ap.add_argument("--keep", action="store_true", help="keep the GGUF output")
    a = ap.parse_args()
    d = os.path.join(a.workdir, a.shape)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    data_path = os.path.join(d, "model.onnx_data")
    if not (os.path.exists(onnx_path) and os.path.exists(data_path)):
        t0 = time.perf_counter()
        write_export(d, a.shape, a.tokenizer)
        print("wrote synthetic export in %.1f s" % (time.perf_counter() - t0), flush=True)
    in_bytes = os.path.getsize(data_path) + os.path.getsize(onnx_path)
    cp_out = os.path.join(d, "cp.out")
    gguf = os.path.join(d, "out.gguf")
    warm(data_path)
    cp_s, cp_rss = run_measured(["cp", data_path, cp_out])
    os.remove(cp_out)
    warm(data_path)
    lm_s, lm_rss = run_measured([a.lmforge, "convert", onnx_path, gguf, "--force", "--quiet"])
    out_bytes = os.path.getsize(gguf)
    if not a.keep:
        os.remove(gguf)
    largest = 0
    s = SHAPES[a.shape]
    for _, sh in tensor_specs(s):
        largest = max(largest, int(np.prod(sh)) * 2)
    res = {"shape": a.shape, "input_bytes": in_bytes, "output_bytes": out_bytes,
           "cp_seconds": round(cp_s, 3), "cp_GBps": round(in_bytes / cp_s / 1e9, 3),
           "convert_seconds": round(lm_s, 3), "convert_GBps": round(in_bytes / lm_s / 1e9, 3),
           "convert_peak_rss_MB": round(lm_rss / 1e6, 1), "largest_tensor_MB": round(largest / 1e6, 1),
           "ratio_to_cp": round(cp_s / lm_s, 3)}
    print("ONNX -> GGUF f16, %s shape, %.2f GB in: cp %.2f s (%.2f GB/s); lmforge %.2f s (%.2f GB/s, %.0f%% of cp), "
          "peak RSS %.0f MB (largest tensor %.0f MB)" % (a.shape, in_bytes / 1e9, cp_s, res["cp_GBps"], lm_s,
                                                         res["convert_GBps"], 100 * res["ratio_to_cp"],
                                                         res["convert_peak_rss_MB"], res["largest_tensor_MB"]))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
