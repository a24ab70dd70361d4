#!/bin/sh
# Seeds for tests/fuzz/sstable_fuzz.cpp and tests/fuzz/tf_bundle_fuzz.cpp: small TensorFlow
# checkpoint .index tables built by LevelDB (tests/oracles/leveldb_table_tool.cpp, compiled
# here against Debian's libleveldb-dev), plain and snappy-compressed, their bundle entry
# values, and .pb files (GraphDef, SavedModel, ONNX TensorProto) from check_tf_checkpoint.py's
# spec writers.
set -eu
fixtures=$1
out=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out/sstable" "$out/tf_bundle"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! c++ -std=c++20 -O1 -o "$tmp/leveldb_table_tool" "$here/tests/oracles/leveldb_table_tool.cpp" -lleveldb 2>"$tmp/cc.log"; then
    echo "tf_checkpoint seeds: libleveldb-dev not available" >&2
    exit 0
fi
/usr/bin/python3 - "$here/tests/oracles" "$tmp" "$out" <<'PY' || echo "tf_checkpoint seeds: python failed" >&2
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import check_tf_checkpoint as c
tmp, out = sys.argv[2], sys.argv[3]
tool = os.path.join(tmp, "leveldb_table_tool")
tensors = {k: v for k, v in c.make_tensors(1).items() if "layer_" not in k}
for name, nshards, comp, block in (("plain", 2, "none", 128), ("snappy", 1, "snappy", 64)):
    prefix = os.path.join(tmp, name)
    c.write_checkpoint(tool, prefix, tensors, num_shards=nshards, block_size=block, restart=3, compression=comp)
    shutil.copy(prefix + ".index", os.path.join(out, "sstable", name + ".index"))
open(os.path.join(out, "tf_bundle", "header"), "wb").write(c.bundle_header(2, big_endian=True))
open(os.path.join(out, "tf_bundle", "entry"), "wb").write(c.bundle_entry("float16", (3, 4), 1, 64, 24, 12345))
graph, _, _ = c.make_graph_def(np.random.default_rng(0))
open(os.path.join(out, "tf_bundle", "graph.pb"), "wb").write(graph)
sm = c.f_varint(1, 1) + c.f_bytes(2, c.f_bytes(1, c.f_bytes(4, b"serve")) + c.f_bytes(2, graph))
open(os.path.join(out, "tf_bundle", "saved_model.pb"), "wb").write(sm)
try:
    from onnx import numpy_helper
    t = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "input_0")
    open(os.path.join(out, "tf_bundle", "input_0.pb"), "wb").write(t.SerializeToString())
except ImportError:
    pass
PY
exit 0
