#!/bin/sh
# Seeds for tests/fuzz/onnx_fuzz.cpp: small valid ONNX models built with python3-onnx (every
# value field, a Constant node, an If subgraph, external_data entries) and, with LMFORGE, a
# fixture safetensors file written as ONNX by lmforge itself.
set -eu
fixtures=$1
out=$2
lmforge=${3:-}
mkdir -p "$out/onnx"
/usr/bin/python3 - "$out/onnx" <<'PY' || echo "onnx seeds: python3-onnx not available" >&2
import os, sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
d = sys.argv[1]
inits = [numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "raw"),
         helper.make_tensor("f", TensorProto.FLOAT, [2], [1.0, -2.0]),
         helper.make_tensor("h", TensorProto.FLOAT16, [2], [1.0, 0.5]),
         helper.make_tensor("i", TensorProto.INT8, [2], [-1, 7]),
         helper.make_tensor("l", TensorProto.INT64, [2], [-1, 2**40]),
         helper.make_tensor("u", TensorProto.UINT64, [1], [2**63]),
         helper.make_tensor("dd", TensorProto.DOUBLE, [1], [0.25])]
ext = TensorProto(); ext.name = "e"; ext.data_type = TensorProto.FLOAT; ext.dims.extend([4])
ext.data_location = TensorProto.EXTERNAL
for k, v in (("location", "w.bin"), ("offset", "0"), ("length", "16")):
    e = ext.external_data.add(); e.key, e.value = k, v
sub = helper.make_graph([helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(2, np.float32), ""))],
                        "then", [], [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])])
nodes = [helper.make_node("MatMul", ["x", "raw"], ["y"], name="/model/layers.0/mlp/up_proj/MatMul"),
         helper.make_node("If", ["cond"], ["z"], then_branch=sub, else_branch=sub)]
g = helper.make_graph(nodes, "g", [], [], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.metadata_props.add(key="lmforge.llama_config", value="{}")
open(os.path.join(d, "values.onnx"), "wb").write(m.SerializeToString())
g2 = helper.make_graph([], "g", [], [], initializer=[ext])
open(os.path.join(d, "external.onnx"), "wb").write(helper.make_model(g2).SerializeToString())
PY
if [ -n "$lmforge" ] && [ -f "$fixtures/hf/mha-safetensors/model.safetensors" ]; then
    "$lmforge" convert "$fixtures/hf/mha-safetensors/model.safetensors" "$out/onnx/lmforge.onnx" -q --force ||
        echo "onnx seeds: lmforge could not write ONNX" >&2
    LMFORGE_ONNX_EXTERNAL_THRESHOLD=0 "$lmforge" convert "$fixtures/hf/mha-safetensors/model.safetensors" \
        "$out/onnx/lmforge-external.onnx" -q --force || true
    rm -f "$out/onnx/lmforge-external.onnx.data"
fi
exit 0
