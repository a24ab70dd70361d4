#!/usr/bin/python3
"""lmforge's ONNX reader and writer against Debian's python3-onnx (1.12) and PyTorch.

Reader: models built with onnx.helper hold initializers in every value field lmforge reads
  (raw_data; float_data, int32_data (int8/16/32, uint8/16, bool, FLOAT16/BFLOAT16 bit patterns),
  int64_data, double_data, uint64_data; a Constant node), inline and saved by onnx.save_model as
  external data (one shared file with offsets; one file per tensor). `lmforge convert X.onnx
  Y.safetensors` must give exactly onnx.numpy_helper.to_array's values.
LLaMA export: each fixture HF model's weights laid out as torch.onnx.export lays them out
  (Linear weights as transposed constants "onnx::MatMul_N" consumed by MatMul nodes named
  "/model/layers.i/.../MatMul"; embeddings and norms under their parameter names; shape
  constants that are not weights), inline and external, with config.json and tokenizer.model
  beside; `lmforge convert m.onnx DIR` must give the folder's tensors value-exact (names, types
  except norm vectors widened to F32, values); `lmforge convert m.onnx m.gguf --outtype f32` -> `lmforge logits --reference` must
  match the float64 PyTorch reference of the original folder (tol 1e-4 on probabilities), and
  llama.cpp on that GGUF must too (tol 1e-2, as oracle.llama_cpp), when node oracles exist.
  Also a genuine torch.onnx.export (torch 1.13) of a module tree with the llama parameter names
  and the fixture's weights (a simplified forward; only the weights matter) -> HF folder must
  give the weights value-exact, and -> GGUF the reference's logits.
  Each export folder (model.onnx [+ model.onnx_data], config.json, tokenizer.model,
  tokenizer_config.json ..., as optimum writes it) is itself a whole model: `inspect` says
  onnx-folder, and `lmforge convert DIR m.gguf --outtype f32` gives the same tensors as the
  single-file conversion and the reference's logits.
Writer: safetensors file, HF folder and GGUF -> .onnx; onnx.checker.check_model must accept the
  file and onnx.load's values must equal the source's (read here with our independent
  safetensors reader, or for GGUF through `lmforge convert X.gguf Y.safetensors`); an HF folder
  written to ONNX reads back as a whole llama (config in metadata) with the same logits.
  With LMFORGE_ONNX_EXTERNAL_THRESHOLD small, values go to external data with 4096-aligned
  offsets that onnx loads.
Hostile files: external location "../x", absolute, symlink out of the folder, offset or length
  past the end, length != dims x type, raw_data of the wrong size, truncated protobuf: exit 1,
  one "lmforge: error:" line, no output file. A SentencePiece tokenizer.model is not taken as ONNX.
Self-test: a transposed weight left untransposed must change the logits beyond the tolerance.
"""

import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    load_hf_config, load_hf_state_dict, lmforge_inspect, main_wrapper, run,
                    sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402

ST_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
            "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def read_st(path):
    """{name: numpy array} of a safetensors file (BF16 widened to float32), written from the spec."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, ST_NUMPY[info["dtype"]])
        out[name] = a.reshape(info["shape"])
    return out


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    return path


def lm_convert(lmforge, src, dst, *extra, env=None):
    fresh(dst)
    cmd = [lmforge, "convert", src, dst, "--quiet"] + list(extra)
    if env:
        old = dict(os.environ)
        os.environ.update(env)
        try:
            run(cmd, timeout=300)
        finally:
            os.environ.clear()
            os.environ.update(old)
    else:
        run(cmd, timeout=300)
    check(os.path.exists(dst), "lmforge convert exited 0 but %s does not exist" % dst)


def same_values(tag, got, want):
    got = np.asarray(got)
    want = np.asarray(want)
    check(tuple(got.shape) == tuple(want.shape), "%s: shape %s, onnx says %s" % (tag, got.shape, want.shape))
    if want.dtype.kind == "f":
        ok = np.array_equal(got.astype(np.float64), want.astype(np.float64), equal_nan=True)
    else:
        ok = np.array_equal(got.astype(np.int64) if got.dtype != np.uint64 else got,
                            want.astype(np.int64) if want.dtype != np.uint64 else want)
    check(ok, "%s: values differ (lmforge %s..., onnx %s...)" % (tag, got.ravel()[:4], want.ravel()[:4]))


# ---------------------------------------------------------------------------------------------
# reader: every value field

def value_field_model():
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.standard_normal((3, 5)).astype(np.float32), "raw_f32"),
        numpy_helper.from_array(rng.standard_normal((4,)).astype(np.float16), "raw_f16"),
        numpy_helper.from_array(rng.standard_normal((2, 2)), "raw_f64"),
        numpy_helper.from_array(np.array([[-5, 2**40], [7, -1]], np.int64), "raw_i64"),
        numpy_helper.from_array(np.array([True, False, True]), "raw_bool"),
        numpy_helper.from_array(np.array([-128, 0, 127], np.int8), "raw_i8"),
        helper.make_tensor("float_data", TensorProto.FLOAT, [2, 3], rng.standard_normal(6).astype(np.float32).tolist()),
        helper.make_tensor("int32_data_i32", TensorProto.INT32, [3], [-2**31, 0, 2**31 - 1]),
        helper.make_tensor("int32_data_i8", TensorProto.INT8, [4], [-128, -1, 0, 127]),
        helper.make_tensor("int32_data_u8", TensorProto.UINT8, [3], [0, 128, 255]),
        helper.make_tensor("int32_data_i16", TensorProto.INT16, [2], [-32768, 32767]),
        helper.make_tensor("int32_data_u16", TensorProto.UINT16, [2], [0, 65535]),
        helper.make_tensor("int32_data_bool", TensorProto.BOOL, [3], [1, 0, 1]),
        # FLOAT16 values travel as their bit patterns in int32_data
        helper.make_tensor("int32_data_f16", TensorProto.FLOAT16, [2, 2], [1.0, -2.5, 65504.0, 6e-5]),
        helper.make_tensor("int32_data_bf16", TensorProto.BFLOAT16, [3], [1.0, -2.5, 3.0e38]),
        helper.make_tensor("int64_data", TensorProto.INT64, [3], [-2**63, 0, 2**63 - 1]),
        helper.make_tensor("double_data", TensorProto.DOUBLE, [2], [1e300, -1.5]),
        helper.make_tensor("uint64_data_u32", TensorProto.UINT32, [2], [1, 4000000000]),
        helper.make_tensor("uint64_data_u64", TensorProto.UINT64, [2], [0, 2**64 - 1]),
    ]
    const = helper.make_node("Constant", [], ["const_out"], name="c0",
                             value=numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), ""))
    graph = helper.make_graph([const], "values", [], [helper.make_tensor_value_info("const_out", TensorProto.FLOAT, [2, 3])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def expected_arrays(model_path):
    """onnx's own reading of every initializer and Constant value, external data included."""
    m = onnx.load(model_path)
    out = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def check_reader_values(lmforge, work):
    model = value_field_model()
    variants = {}
    p = os.path.join(work, "values", "inline.onnx")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    onnx.save_model(model, p)
    variants["inline"] = p
    for kind, one_file in (("shared", True), ("per_tensor", False)):
        d = fresh(os.path.join(work, "values_" + kind))
        os.makedirs(d)
        p = os.path.join(d, "m.onnx")
        m = onnx.ModelProto()
        m.CopyFrom(model)
        onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=one_file,
                        location="weights.bin" if one_file else None, size_threshold=0)
        onnx.checker.check_model(p)
        variants[kind] = p
    for kind, p in variants.items():
        want = expected_arrays(p)
        if kind != "inline":
            ext = sum(1 for t in onnx.load(p, load_external_data=False).graph.initializer
                      if t.data_location == TensorProto.EXTERNAL)
            # onnx.save_model moves the tensors that hold raw_data; typed fields stay inline.
            raw = sum(1 for t in model.graph.initializer if t.HasField("raw_data"))
            check(ext == raw, "%s: onnx stored %d tensors externally, expected %d" % (kind, ext, raw))
        st = os.path.join(work, "values_%s.safetensors" % kind)
        lm_convert(lmforge, p, st)
        got = read_st(st)
        check(set(got) == set(want), "%s: lmforge has tensors %s, onnx %s" % (kind, sorted(got), sorted(want)))
        for name in want:
            same_values("%s/%s" % (kind, name), got[name], want[name])
        print("reader %-10s: %d tensors equal to onnx.numpy_helper.to_array" % (kind, len(want)), flush=True)


# ---------------------------------------------------------------------------------------------
# a LLaMA laid out as torch.onnx.export lays it out

LINEAR = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def export_like_torch(folder, out_dir, external, untransposed=()):
    """Writes out_dir/model.onnx (+ config.json, tokenizer.model) from an HF folder's weights."""
    fresh(out_dir)
    os.makedirs(out_dir)
    sd = load_hf_state_dict(folder)
    cfg = load_hf_config(folder)
    counter = [100]
    inits, nodes = [], []

    def arr(t):
        return t.numpy() if t.dtype != __import__("torch").bfloat16 else t.float().numpy()

    def matmul(module, weight):
        transpose = not any(module.endswith(u) for u in untransposed)
        counter[0] += 7
        const = "onnx::MatMul_%d" % counter[0]
        w = arr(weight)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T if transpose else w), const))
        path = "/" + module.replace(".", "/").replace("layers/", "layers.") + "/MatMul"
        nodes.append(helper.make_node("MatMul", ["hidden", const], ["%s/MatMul_output_0" % path[:-7]], name=path))

    inits.append(numpy_helper.from_array(arr(sd["model.embed_tokens.weight"]), "model.embed_tokens.weight"))
    nodes.append(helper.make_node("Gather", ["model.embed_tokens.weight", "input_ids"], ["/model/embed_tokens/Gather_output_0"],
                                  name="/model/embed_tokens/Gather"))
    for i in range(cfg["num_hidden_layers"]):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            n = "model.layers.%d.%s.weight" % (i, norm)
            inits.append(numpy_helper.from_array(arr(sd[n]), n))
        for lin in LINEAR:
            matmul("model.layers.%d.%s" % (i, lin), sd["model.layers.%d.%s.weight" % (i, lin)])
    inits.append(numpy_helper.from_array(arr(sd["model.norm.weight"]), "model.norm.weight"))
    head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    matmul("lm_head", head)
    # Things a real export carries that are not weights.
    nodes.append(helper.make_node("Constant", [], ["/model/Constant_output_0"], name="/model/Constant",
                                  value=numpy_helper.from_array(np.array([1, -1], np.int64), "")))
    inits.append(numpy_helper.from_array(np.array([0.5], np.float32), "/model/layers.0/self_attn/Constant_2_output_0"))
    graph = helper.make_graph(nodes, "torch_jit", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, None]),
                               helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, None, None])],
                              [helper.make_tensor_value_info("/lm_head/MatMul_output_0", TensorProto.FLOAT, [1, None, cfg["vocab_size"]])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="pytorch")
    model.ir_version = 7
    p = os.path.join(out_dir, "model.onnx")
    if external:
        onnx.save_model(model, p, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx_data", size_threshold=1024)
    else:
        onnx.save_model(model, p)
    shutil.copy(os.path.join(folder, "config.json"), out_dir)
    shutil.copy(os.path.join(folder, "tokenizer.model"), out_dir)
    return p


def real_torch_export(folder, out_dir):
    """torch.onnx.export of a module tree with the HF llama parameter names (forward uses every
    weight once, in the same way a llama does: Embedding, elementwise norms, bias-free Linear)."""
    import torch
    cfg = load_hf_config(folder)
    sd = load_hf_state_dict(folder)
    nn = torch.nn
    class Norm(nn.Module):
        def __init__(s, n): super().__init__(); s.weight = nn.Parameter(torch.zeros(n))
        def forward(s, x): return x * s.weight
    def lin(o, i): return nn.Linear(i, o, bias=False)
    H, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = H // cfg["num_attention_heads"]; kv = cfg.get("num_key_value_heads", cfg["num_attention_heads"]) * hd
    class Attn(nn.Module):
        def __init__(s):
            super().__init__(); s.q_proj, s.k_proj, s.v_proj, s.o_proj = lin(H, H), lin(kv, H), lin(kv, H), lin(H, H)
        def forward(s, x):
            q, k, v = s.q_proj(x), s.k_proj(x), s.v_proj(x)
            return s.o_proj(q + k.sum(-1, keepdim=True) + v.sum(-1, keepdim=True))
    class Mlp(nn.Module):
        def __init__(s): super().__init__(); s.gate_proj, s.up_proj, s.down_proj = lin(F, H), lin(F, H), lin(H, F)
        def forward(s, x): return s.down_proj(torch.nn.functional.silu(s.gate_proj(x)) * s.up_proj(x))
    class Layer(nn.Module):
        def __init__(s):
            super().__init__(); s.self_attn, s.mlp = Attn(), Mlp(); s.input_layernorm, s.post_attention_layernorm = Norm(H), Norm(H)
        def forward(s, x):
            x = x + s.self_attn(s.input_layernorm(x))
            return x + s.mlp(s.post_attention_layernorm(x))
    class Inner(nn.Module):
        def __init__(s):
            super().__init__(); s.embed_tokens = nn.Embedding(V, H); s.layers = nn.ModuleList([Layer() for _ in range(cfg["num_hidden_layers"])]); s.norm = Norm(H)
        def forward(s, ids):
            h = s.embed_tokens(ids)
            for l in s.layers: h = l(h)
            return s.norm(h)
    class Model(nn.Module):
        def __init__(s): super().__init__(); s.model = Inner(); s.lm_head = lin(V, H)
        def forward(s, ids): return s.lm_head(s.model(ids))
    m = Model()
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    fresh(out_dir)
    os.makedirs(out_dir)
    p = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(m, (torch.tensor([[1, 2, 3]]),), p, input_names=["input_ids"], opset_version=14)
    shutil.copy(os.path.join(folder, "config.json"), out_dir)
    shutil.copy(os.path.join(folder, "tokenizer.model"), out_dir)
    return p


def lmforge_probs(lmforge, gguf, ids, vocab):
    r = run([lmforge, "logits", "-m", gguf, "--ids", ",".join(map(str, ids)), "--all", "--reference"], timeout=300)
    logits = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
    check(logits.shape == (len(ids), vocab), "lmforge logits shape %s" % (logits.shape,))
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def max_dp(probs, ref):
    return max(float(np.abs(p - q).max()) for p, q in zip(probs, ref))


def have_node_oracles():
    here = os.path.dirname(os.path.abspath(__file__))
    return shutil.which("node") and os.path.isdir(os.path.join(here, "node_modules", "node-llama-cpp"))


def check_export_folder(lmforge, src, export_dir, file_gguf, tag, work, sp_ids, vocab, ref, tol):
    """The export folder itself (model.onnx [+ model.onnx_data], config.json, tokenizer files,
    as optimum writes it) converts as a whole model, to the same tensors as its model file."""
    for extra in ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if os.path.exists(os.path.join(src, extra)):
            shutil.copy(os.path.join(src, extra), export_dir)
    info = lmforge_inspect(lmforge, export_dir)
    check(info.get("format") == "onnx-folder", "%s folder: inspect says format %r" % (tag, info.get("format")))
    gguf = os.path.join(work, tag.replace("/", "_") + "_folder.gguf")
    lm_convert(lmforge, export_dir, gguf, "--outtype", "f32")
    d = max_dp([lmforge_probs(lmforge, gguf, ids, vocab) for ids in sp_ids], ref)
    check(d <= tol, "%s folder: max |dp| %.3g > %g" % (tag, d, tol))
    # Same tensors as the single-file conversion, bit for bit (read back through safetensors).
    got, want = {}, {}
    for g, into in ((gguf, got), (file_gguf, want)):
        st = g + ".safetensors"
        lm_convert(lmforge, g, st)
        into.update(read_st(st))
    check(set(got) == set(want), "%s folder: tensor names differ: %s" % (tag, sorted(set(got) ^ set(want))[:6]))
    for k in want:
        check(np.array_equal(np.asarray(got[k]), np.asarray(want[k])), "%s folder: %s differs from the single-file conversion" % (tag, k))
    print("export %-36s folder -> GGUF f32: same %d tensors as the file, max |dp| = %.2e" % (tag, len(want), d), flush=True)


def check_llama_exports(lmforge, fixtures, manifest, work, tol, tol_llama_cpp):
    vocab = manifest["vocab_size"]
    sp_ids = sentencepiece_ids(os.path.join(fixtures, manifest["tokenizer"]), PROMPTS)
    llama_cpp_eval = None
    if have_node_oracles():
        from check_llama_cpp import llama_cpp_eval  # noqa: F811
    else:
        print("llama.cpp cross-check skipped: node oracles not installed (scripts/install_oracles.sh)", flush=True)
    for model in manifest["models"]:
        name = model["name"]
        if name not in ("mha-safetensors", "gqa-safetensors-sharded", "tied-bin"):
            continue
        src = os.path.join(fixtures, model["path"])
        ref = [Llama(src).probs(ids).numpy() for ids in sp_ids]
        for external in (False, True):
            tag = "%s/%s" % (name, "external" if external else "inline")
            p = export_like_torch(src, os.path.join(work, "export_" + tag.replace("/", "_")), external)
            gguf = os.path.join(work, tag.replace("/", "_") + ".gguf")
            lm_convert(lmforge, p, gguf, "--outtype", "f32")
            d = max_dp([lmforge_probs(lmforge, gguf, ids, vocab) for ids in sp_ids], ref)
            print("export %-36s -> GGUF f32: lmforge logits vs torch float64 max |dp| = %.2e" % (tag, d), flush=True)
            check(d <= tol, "%s: max |dp| %.3g > %g" % (tag, d, tol))
            check_export_folder(lmforge, src, os.path.dirname(p), gguf, tag, work, sp_ids, vocab, ref, tol)
            if not external and not model["tied"]:
                # ONNX -> HF folder: the transposed weights must come back bit-exact.
                hf = os.path.join(work, tag.replace("/", "_") + ".hf")
                lm_convert(lmforge, p, hf)
                got = load_hf_state_dict(hf)
                want = load_hf_state_dict(src)
                check(set(got) == set(want), "%s -> HF: names differ: %s" % (tag, sorted(set(got) ^ set(want))[:6]))
                for k in want:
                    # write_llama_hf keeps matrices' types; norm vectors may be widened to F32.
                    same_type = got[k].dtype == want[k].dtype or (want[k].dim() == 1 and str(got[k].dtype) == "torch.float32")
                    check(same_type and got[k].double().equal(want[k].double()), "%s -> HF: %s differs (%s vs %s)"
                          % (tag, k, got[k].dtype, want[k].dtype))
                print("export %-36s -> HF folder: %d tensors value-exact" % (tag, len(want)), flush=True)
            if llama_cpp_eval and not external:
                probs, _ = llama_cpp_eval(tag, gguf, work, sp_ids, vocab)
                d = max_dp(probs, ref)
                print("export %-36s -> GGUF f32: llama.cpp vs torch float64 max |dp| = %.2e" % (tag, d), flush=True)
                check(d <= tol_llama_cpp, "%s: llama.cpp max |dp| %.3g > %g" % (tag, d, tol_llama_cpp))
        if not model["tied"]:
            # A genuine torch.onnx.export (torch 1.13) of a module tree with the llama parameter
            # names: its naming of transposed MatMul constants is what the mapping relies on.
            tag = "%s/torch.onnx.export" % name
            p = real_torch_export(src, os.path.join(work, "real_export_" + name))
            hf = os.path.join(work, "real_export_%s.hf" % name)
            lm_convert(lmforge, p, hf)
            got, want = load_hf_state_dict(hf), load_hf_state_dict(src)
            check(set(got) == set(want), "%s -> HF: names differ: %s" % (tag, sorted(set(got) ^ set(want))[:6]))
            for k in want:
                check(got[k].double().equal(want[k].double()), "%s -> HF: %s differs" % (tag, k))
            gguf = os.path.join(work, "real_export_%s.gguf" % name)
            lm_convert(lmforge, p, gguf, "--outtype", "f32")
            d = max_dp([lmforge_probs(lmforge, gguf, ids, vocab) for ids in sp_ids], ref)
            print("export %-36s -> HF folder value-exact; -> GGUF f32 logits vs torch float64 max |dp| = %.2e"
                  % (tag, d), flush=True)
            check(d <= tol, "%s: max |dp| %.3g > %g" % (tag, d, tol))
        if name == "mha-safetensors":
            # Self-test: o_proj left in [in, out] order (square, so the shapes still fit) must
            # move the probabilities beyond the tolerance.
            p = export_like_torch(src, os.path.join(work, "export_untransposed"), False, untransposed=("self_attn.o_proj",))
            gguf = os.path.join(work, "untransposed.gguf")
            lm_convert(lmforge, p, gguf, "--outtype", "f32")
            d = max_dp([lmforge_probs(lmforge, gguf, ids, vocab) for ids in sp_ids], ref)
            print("self-test: o_proj left untransposed gives max |dp| = %.2e (must exceed %g)" % (d, tol), flush=True)
            check(d > tol, "self-test: an untransposed o_proj changed nothing the check can see")


# ---------------------------------------------------------------------------------------------
# writer

def check_written(tag, path, want, name_map=None):
    onnx.checker.check_model(path)  # the path form also checks external data locations
    m = onnx.load(path)
    check(m.producer_name == "lmforge", "%s: producer_name %r" % (tag, m.producer_name))
    check(m.ir_version == 8, "%s: ir_version %d, expected 8" % (tag, m.ir_version))
    got = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    check(len(m.graph.node) == 0, "%s: the graph has nodes" % tag)
    check(set(got) == set(want), "%s: names differ: %s" % (tag, sorted(set(got) ^ set(want))[:6]))
    for n, a in want.items():
        same_values("%s/%s" % (tag, n), got[n], a)
    return m


def check_writer(lmforge, fixtures, manifest, work, tol):
    vocab = manifest["vocab_size"]
    sp_ids = sentencepiece_ids(os.path.join(fixtures, manifest["tokenizer"]), PROMPTS)
    for model in manifest["models"]:
        name = model["name"]
        src = os.path.join(fixtures, model["path"])
        if model["format"] == "safetensors" and model["shards"] == 1:
            st = os.path.join(src, "model.safetensors")
            out = os.path.join(work, "write_%s.onnx" % name)
            lm_convert(lmforge, st, out)
            check_written("writer %s safetensors" % name, out, read_st(st))
            print("writer safetensors %-24s -> ONNX: onnx.checker ok, values equal" % name, flush=True)
        if name != "mha-safetensors":
            continue
        want = {k: v.float().numpy() if str(v.dtype) == "torch.bfloat16" else v.numpy()
                for k, v in load_hf_state_dict(src).items()}
        for external in (False, True):
            d = fresh(os.path.join(work, "write_hf_" + ("external" if external else "inline")))
            os.makedirs(d)
            out = os.path.join(d, "model.onnx")
            lm_convert(lmforge, src, out, env={"LMFORGE_ONNX_EXTERNAL_THRESHOLD": "1000"} if external else None)
            m = check_written("writer HF folder %s" % ("external" if external else "inline"), out, want)
            props = {p.key: p.value for p in m.metadata_props}
            check("lmforge.llama_config" in props, "HF folder -> ONNX: no lmforge.llama_config metadata")
            check(json.loads(props["lmforge.llama_config"])["num_attention_heads"] == load_hf_config(src)["num_attention_heads"],
                  "lmforge.llama_config does not hold the folder's config")
            if external:
                raw = onnx.load(out, load_external_data=False)
                offsets = []
                for t in raw.graph.initializer:
                    kv = {e.key: e.value for e in t.external_data}
                    check(t.data_location == TensorProto.EXTERNAL and kv.get("location") == "model.onnx.data",
                          "external writer: %s is not in model.onnx.data" % t.name)
                    offsets.append(int(kv["offset"]))
                check(all(o % 4096 == 0 for o in offsets), "external offsets not 4096-aligned: %s" % offsets[:5])
            # Read back as a whole llama: config from the metadata, tokenizer beside.
            shutil.copy(os.path.join(src, "tokenizer.model"), d)
            gguf = os.path.join(work, "write_hf_roundtrip.gguf")
            lm_convert(lmforge, out, gguf, "--outtype", "f32")
            ref = [Llama(src).probs(ids).numpy() for ids in sp_ids]
            dp = max_dp([lmforge_probs(lmforge, gguf, ids, vocab) for ids in sp_ids], ref)
            print("writer HF folder %-8s -> ONNX -> GGUF: onnx.checker ok, values equal, logits max |dp| = %.2e"
                  % ("external" if external else "inline", dp), flush=True)
            check(dp <= tol, "HF -> ONNX -> GGUF: max |dp| %.3g > %g" % (dp, tol))
        # GGUF (f16 and q8_0: dequantized to F32) -> ONNX, values equal to lmforge's safetensors
        # output of the same GGUF (the GGUF reader is checked against @huggingface/gguf elsewhere).
        for outtype in ("f16", "q8_0"):
            gguf = os.path.join(work, "src_%s.gguf" % outtype)
            lm_convert(lmforge, src, gguf, "--outtype", outtype)
            st = os.path.join(work, "src_%s.safetensors" % outtype)
            lm_convert(lmforge, gguf, st)
            out = os.path.join(work, "write_gguf_%s.onnx" % outtype)
            lm_convert(lmforge, gguf, out)
            check_written("writer GGUF %s" % outtype, out, read_st(st))
            print("writer GGUF %-5s -> ONNX: onnx.checker ok, values equal to GGUF -> safetensors" % outtype, flush=True)


# ---------------------------------------------------------------------------------------------
# hostile files

def refused(lmforge, tag, src, work, expect):
    out = fresh(os.path.join(work, "refused.safetensors"))
    r = run([lmforge, "convert", src, out, "--quiet"], check_rc=False)
    err = r.stderr.decode(errors="replace").strip()
    check(r.returncode == 1, "%s: exit status %d, expected 1 (stderr %r)" % (tag, r.returncode, err[-300:]))
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("lmforge: error:"), "%s: not one clean error line: %r" % (tag, err[-500:]))
    check(expect in lines[0], "%s: the message does not mention %r: %s" % (tag, expect, lines[0]))
    check(not os.path.exists(out), "%s: an output file was left behind" % tag)
    print("hostile %-24s refused: %s" % (tag, lines[0][:150]), flush=True)


def external_model(d, location, offset=None, length=None, dims=(4,)):
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    g = helper.make_graph([], "g", [], [], initializer=[t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    p = os.path.join(d, "m_%d.onnx" % len(os.listdir(d)))
    with open(p, "wb") as f:
        f.write(m.SerializeToString())
    return p


def check_hostile(lmforge, fixtures, manifest, work):
    d = fresh(os.path.join(work, "hostile", "model"))
    os.makedirs(d)
    outside = os.path.join(work, "hostile", "secret.bin")
    with open(outside, "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    with open(os.path.join(d, "data.bin"), "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    os.symlink(outside, os.path.join(d, "link.bin"))
    os.makedirs(os.path.join(d, "sub"))
    # The control: a good external reference is read.
    good = external_model(d, "data.bin", 0, 16)
    st = os.path.join(work, "hostile_good.safetensors")
    lm_convert(lmforge, good, st)
    same_values("hostile control", read_st(st)["w"], np.arange(4, dtype=np.float32))
    refused(lmforge, "location ../secret.bin", external_model(d, "../secret.bin"), work, "..")
    refused(lmforge, "location sub/../../x", external_model(d, "sub/../../secret.bin"), work, "..")
    refused(lmforge, "absolute location", external_model(d, outside), work, "absolute")
    refused(lmforge, "symlink out of folder", external_model(d, "link.bin"), work, "outside")
    refused(lmforge, "offset past end", external_model(d, "data.bin", 32, 16), work, "past the end")
    refused(lmforge, "length past end", external_model(d, "data.bin", 8, 16), work, "past the end")
    refused(lmforge, "length != dims", external_model(d, "data.bin", 0, 12), work, "length")
    refused(lmforge, "missing file", external_model(d, "nope.bin"), work, "nope.bin")
    t = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    t.raw_data = t.raw_data[:-4]
    g = helper.make_graph([], "g", [], [], initializer=[t])
    p = os.path.join(d, "short_raw.onnx")
    with open(p, "wb") as f:
        f.write(helper.make_model(g).SerializeToString())
    refused(lmforge, "raw_data too short", p, work, "raw_data")
    data = open(os.path.join(work, "values", "inline.onnx"), "rb").read()
    p = os.path.join(d, "truncated.onnx")
    with open(p, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    r = run([lmforge, "convert", p, fresh(os.path.join(work, "refused.safetensors")), "--quiet"], check_rc=False)
    check(r.returncode == 1 and len(r.stderr.decode().strip().splitlines()) == 1,
          "truncated ONNX: exit %d, stderr %r" % (r.returncode, r.stderr[-300:]))
    print("hostile %-24s refused: %s" % ("truncated protobuf", r.stderr.decode().strip()[:150]), flush=True)
    # Sniffing: a SentencePiece model is a protobuf too, but not an ONNX model.
    tok = os.path.join(fixtures, manifest["tokenizer"])
    r = run([lmforge, "inspect", tok, "--json"], check_rc=False)
    check("ONNX model" not in (r.stdout + r.stderr).decode(errors="replace"),
          "tokenizer.model was taken for ONNX: %r" % (r.stdout + r.stderr)[:300])
    print("sniff: tokenizer.model is not taken for ONNX", flush=True)


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-4, help="max |dp|, lmforge scalar engine vs float64")
    ap.add_argument("--tol-llama-cpp", type=float, default=1e-2, help="max |dp|, llama.cpp f32 vs float64")
    args = ap.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "onnx")
    manifest = fixture_manifest(fixtures)
    check_reader_values(args.lmforge, work)
    check_llama_exports(args.lmforge, fixtures, manifest, work, args.tol, args.tol_llama_cpp)
    check_writer(args.lmforge, fixtures, manifest, work, args.tol)
    check_hostile(args.lmforge, fixtures, manifest, work)


if __name__ == "__main__":
    main_wrapper("check_onnx", main)
