#!/usr/bin/env python3
"""TensorFlow checkpoints (.index SSTable + .data shards) and .pb files, end to end.

Independent implementations used as oracles (TensorFlow itself is not in Debian 12):
  * LevelDB (Debian libleveldb-dev) builds every table, through leveldb_table_tool, with tiny
    blocks and restart intervals 1..16 so there are many blocks and restart points, with and
    without snappy; our SSTable reader must return exactly the pairs LevelDB was given
    (read through a hidden unit-test hook, TfSSTableOracle.*, since arbitrary pairs are not a
    checkpoint).
  * The tensor-bundle layer (BundleHeaderProto/BundleEntryProto, data shards, masked CRC-32C)
    is written here from the spec, in Python, with numpy arrays as the ground truth; lmforge
    inspect --json and convert -> safetensors must reproduce their dtypes, shapes and bytes.
  * Corrupted inputs must give one clean error line and no output file.
  * .pb files: a hand-encoded GraphDef with Const nodes, a SavedModel, an ONNX TensorProto
    written by the onnx package, and a SentencePiece tokenizer.model that must NOT be taken
    for a .pb.
"""

import json
import os
import random
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import CheckFailed, base_args, check, main_wrapper, run, workdir_for  # noqa: E402

# --- CRC-32C (Castagnoli), bit by bit from the polynomial -----------------------------------


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc_mask(c):
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# --- protobuf encoding ----------------------------------------------------------------------


def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def f_varint(field, v):
    return varint(field << 3) + varint(v)


def f_bytes(field, b):
    return varint(field << 3 | 2) + varint(len(b)) + bytes(b)


def f_fixed32(field, v):
    return varint(field << 3 | 5) + struct.pack("<I", v)


def shape_proto(shape):
    return b"".join(f_bytes(2, f_varint(1, d) if d else b"") for d in shape)


# TF DataType enum (types.proto)
DT = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "string": 7,
      "int64": 9, "bool": 10, "bfloat16": 14, "float16": 19}
ST_NAME = {"float32": "F32", "float64": "F64", "int32": "I32", "uint8": "U8", "int16": "I16",
           "int8": "I8", "int64": "I64", "bool": "BOOL", "bfloat16": "BF16", "float16": "F16"}


def bundle_entry(dtype, shape, shard, offset, size, masked_crc, slices=False):
    e = f_varint(1, DT[dtype]) + f_bytes(2, shape_proto(shape))
    if shard:
        e += f_varint(3, shard)
    if offset:
        e += f_varint(4, offset)
    if size:
        e += f_varint(5, size)
    e += f_fixed32(6, masked_crc)
    if slices:
        e += f_bytes(7, b"")
    return e


def bundle_header(num_shards, big_endian=False):
    h = f_varint(1, num_shards)
    if big_endian:
        h += f_varint(2, 1)
    return h + f_bytes(3, f_varint(1, 1))


# --- LevelDB tables through leveldb_table_tool ----------------------------------------------


def pairs_stream(pairs):
    out = bytearray()
    for k, v in pairs:
        out += struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v
    return bytes(out)


def parse_pairs(data):
    pairs, pos = [], 0
    while pos < len(data):
        rec = []
        for _ in range(2):
            (n,) = struct.unpack_from("<I", data, pos)
            rec.append(data[pos + 4:pos + 4 + n])
            pos += 4 + n
        pairs.append(tuple(rec))
    return pairs


def leveldb_write(tool, path, pairs, block_size=4096, restart=16, compression="none"):
    r = subprocess.run([tool, "write", path, str(block_size), str(restart), compression],
                       input=pairs_stream(pairs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check(r.returncode == 0, "leveldb_table_tool write failed: %s" % r.stderr.decode(errors="replace"))
    back = parse_pairs(run([tool, "dump", path]).stdout)
    check(back == list(pairs), "LevelDB does not read back its own table %s" % path)


# --- a TF checkpoint written from the spec ---------------------------------------------------


def bf16_bits(a):
    """Round-to-nearest-even bfloat16 bit patterns of a float32 array, as uint16."""
    u = a.astype("<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def make_tensors(seed):
    rng = np.random.default_rng(seed)
    t = {}  # name -> (tf dtype, numpy array holding the little-endian reference bytes)
    t["model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"] = ("float32", rng.standard_normal((7, 5)).astype("<f4"))
    t["model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE"] = ("float32", rng.standard_normal((5,)).astype("<f4"))
    t["model/emb/embeddings/.ATTRIBUTES/VARIABLE_VALUE"] = ("float16", rng.standard_normal((11, 3)).astype("<f2"))
    t["model/norm/gamma/.ATTRIBUTES/VARIABLE_VALUE"] = ("bfloat16", bf16_bits(rng.standard_normal((4, 6)).astype("<f4")))
    t["model/counts"] = ("int64", rng.integers(-2**62, 2**62, size=(3, 2, 2)).astype("<i8"))
    t["model/mask"] = ("bool", rng.integers(0, 2, size=(9,)).astype("?"))
    t["model/scale"] = ("float64", np.array(3.25, dtype="<f8"))
    t["model/ids"] = ("int32", rng.integers(-1000, 1000, size=(2, 3)).astype("<i4"))
    t["model/bytes"] = ("uint8", rng.integers(0, 256, size=(6,)).astype("u1"))
    t["model/empty"] = ("float32", np.zeros((0, 3), dtype="<f4"))
    t["global_step"] = ("int64", np.array(12345, dtype="<i8"))
    for i in range(40):  # enough keys for many index blocks
        t["model/layer_%02d/w/.ATTRIBUTES/VARIABLE_VALUE" % i] = ("float32", rng.standard_normal((2, 2)).astype("<f4"))
    return t


def write_checkpoint(tool, prefix, tensors, num_shards=2, big_endian=False, block_size=256,
                     restart=4, compression="none", extra_entries=True):
    shards = [bytearray() for _ in range(num_shards)]
    entries = {}
    for i, (name, (dtype, arr)) in enumerate(sorted(tensors.items())):
        shard = i % num_shards
        raw = arr.byteswap().tobytes() if big_endian else arr.tobytes()
        if i % 3 == 0:
            shards[shard] += b"\0" * 3  # padding between tensors: offsets must be read, not inferred
        entries[name.encode()] = bundle_entry(dtype, arr.shape, shard, len(shards[shard]), len(raw),
                                              crc_mask(crc32c(raw)))
        shards[shard] += raw
    if extra_entries:
        # A DT_STRING scalar (the object graph), stored as TF does: varint length, masked CRC of
        # the length, the bytes. lmforge lists it without data.
        payload = b"not a real object graph"
        blob = varint(len(payload)) + struct.pack("<I", crc_mask(crc32c(struct.pack("<I", len(payload))))) + payload
        entries[b"_CHECKPOINTABLE_OBJECT_GRAPH"] = bundle_entry("string", (), 0, len(shards[0]), len(blob),
                                                                crc_mask(crc32c(blob)))
        shards[0] += blob
        # A partitioned variable's full entry: it has slices and no bytes of its own.
        entries[b"model/partitioned"] = bundle_entry("float32", (4, 2), 0, 0, 0, 0, slices=True)
    pairs = [(b"", bundle_header(num_shards, big_endian))] + sorted(entries.items())
    leveldb_write(tool, prefix + ".index", pairs, block_size, restart, compression)
    for s in range(num_shards):
        with open("%s.data-%05d-of-%05d" % (prefix, s, num_shards), "wb") as f:
            f.write(bytes(shards[s]))


def read_safetensors_raw(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[base + b:base + e])
    return out


def inspect_json(lmforge, path):
    r = run([lmforge, "inspect", path, "--json"])
    return json.loads(r.stdout)


def check_checkpoint(args, prefix, tensors, num_shards, label):
    info = inspect_json(args.lmforge, prefix)
    check(info["format"] == "tf-checkpoint", "%s: format %r" % (label, info["format"]))
    got = {t["name"]: t for t in info["tensors"]}
    check(set(got) == set(tensors), "%s: tensor names differ: extra %s, missing %s" % (
        label, sorted(set(got) - set(tensors))[:5], sorted(set(tensors) - set(got))[:5]))
    for name, (dtype, arr) in tensors.items():
        t = got[name]
        check(t["dtype"] == ST_NAME[dtype] and t["shape"] == list(arr.shape) and t["bytes"] == arr.nbytes,
              "%s: %s listed as %s %s %d bytes, expected %s %s %d" % (
                  label, name, t["dtype"], t["shape"], t["bytes"], ST_NAME[dtype], list(arr.shape), arr.nbytes))
    check(info["metadata"]["num_shards"] == num_shards, "%s: num_shards %r" % (label, info["metadata"]["num_shards"]))
    out = prefix + ".converted.safetensors"
    run([args.lmforge, "convert", prefix, out, "-q", "--force"])
    st = read_safetensors_raw(out)
    check(set(st) == set(tensors), "%s: safetensors names differ" % label)
    for name, (dtype, arr) in tensors.items():
        sd, sshape, raw = st[name]
        check(sd == ST_NAME[dtype] and sshape == list(arr.shape), "%s: %s is %s %s in safetensors" % (label, name, sd, sshape))
        check(raw == arr.tobytes(), "%s: %s bytes differ from numpy's" % (label, name))
    print("  %s: %d tensors, inspect and convert -> safetensors byte-identical to numpy" % (label, len(tensors)))
    return info


def expect_clean_error(args, cmd, needle, label, out=None):
    r = run(cmd, check_rc=False)
    err = r.stderr.decode(errors="replace")
    lines = [l for l in err.splitlines() if l.strip()]
    check(r.returncode == 1, "%s: exit status %d (expected 1); stderr: %s" % (label, r.returncode, err[-500:]))
    check(len(lines) == 1 and lines[0].startswith("lmforge: error: "),
          "%s: expected one error line, got: %r" % (label, err[-800:]))
    check(needle in lines[0], "%s: error does not mention %r: %s" % (label, needle, lines[0]))
    if out is not None:
        check(not os.path.exists(out), "%s: a partial output %s was left behind" % (label, out))
    print("  %s: %s" % (label, lines[0]))


# --- raw table surgery for the corruption cases ---------------------------------------------


def read_varint(b, pos):
    v = shift = 0
    while True:
        x = b[pos]
        pos += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return v, pos


def footer_handles(data):
    f = data[-48:]
    mo, p = read_varint(f, 0)
    ms, p = read_varint(f, p)
    io, p = read_varint(f, p)
    isz, p = read_varint(f, p)
    return (mo, ms), (io, isz)


def first_data_block(data):
    _, (io, isz) = footer_handles(data)
    blk = data[io:io + isz]
    p = 0
    shared, p = read_varint(blk, p)
    unshared, p = read_varint(blk, p)
    vlen, p = read_varint(blk, p)
    p += unshared
    off, q = read_varint(blk, p)
    size, q = read_varint(blk, q)
    return off, size


def fix_block_crc(data, off, size):
    c = crc_mask(crc32c(bytes(data[off:off + size + 1])))
    data[off + size + 1:off + size + 5] = struct.pack("<I", c)


def copy_checkpoint(src_prefix, dst_prefix, num_shards):
    for suffix in [".index"] + [".data-%05d-of-%05d" % (s, num_shards) for s in range(num_shards)]:
        with open(src_prefix + suffix, "rb") as f, open(dst_prefix + suffix, "wb") as g:
            g.write(f.read())


# --- the checks -----------------------------------------------------------------------------


def check_sstables(args, work):
    """LevelDB-built tables with arbitrary pairs -> our reader (through TfSSTableOracle)."""
    d = os.path.join(work, "sstables")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    rng = random.Random(20260501)
    configs = [(64, 1, "none"), (100, 2, "none"), (200, 3, "none"), (512, 16, "none"), (1 << 18, 16, "none"),
               (64, 1, "snappy"), (150, 5, "snappy"), (4096, 16, "snappy")]
    total = 0
    for i, (block, restart, comp) in enumerate(configs):
        keys = set()
        while len(keys) < 300:
            kind = rng.random()
            if kind < 0.5:
                keys.add(("model/layer_%03d/%s/.ATTRIBUTES/VARIABLE_VALUE" % (
                    rng.randrange(60), rng.choice(["kernel", "bias", "attn/q", "attn/kv"]))).encode())
            elif kind < 0.8:
                keys.add(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24))))
            else:
                keys.add(b"k" * rng.randrange(1, 300))
        pairs = []
        for k in sorted(keys):
            if rng.random() < 0.5:
                v = (b"abcabcab" * 200)[:rng.randrange(0, 1200)]  # compressible, for snappy
            else:
                v = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
            pairs.append((k, v))
        path = os.path.join(d, "case_%d.ldb" % i)
        leveldb_write(args.table_tool, path, pairs, block, restart, comp)
        with open(os.path.join(d, "case_%d.pairs" % i), "wb") as f:
            f.write(pairs_stream(pairs))
        if comp == "snappy":
            plain = path + ".plain"
            leveldb_write(args.table_tool, plain, pairs, block, restart, "none")
            check(os.path.getsize(path) < os.path.getsize(plain),
                  "case %d: LevelDB did not compress any block with snappy" % i)
            os.remove(plain)
        total += len(pairs)
    env = dict(os.environ, LMFORGE_TF_SSTABLE_CASES=d)
    r = subprocess.run([args.unit_tests, "--gtest_filter=TfSSTableOracle.*"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors="replace")
    check(r.returncode == 0 and "[  PASSED  ] 1 test" in out and "SKIPPED" not in out,
          "TfSSTableOracle failed:\n%s" % out[-3000:])
    same = [l for l in out.splitlines() if "pairs identical" in l]
    check(len(same) == len(configs), "TfSSTableOracle compared %d tables, expected %d:\n%s" % (len(same), len(configs), out[-2000:]))
    print("  %d LevelDB tables (%d pairs; block size 64..256K, restart interval 1..16, none/snappy): "
          "every pair identical" % (len(configs), total))


def check_checkpoints(args, work):
    d = os.path.join(work, "ckpt")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    tensors = make_tensors(7)
    prefix = os.path.join(d, "model.ckpt-5")
    write_checkpoint(args.table_tool, prefix, tensors, num_shards=2)
    info = check_checkpoint(args, prefix, tensors, 2, "2-shard checkpoint (prefix)")
    skipped = sorted(e["name"] for e in info["metadata"]["entries_without_tensor_data"])
    check(skipped == ["_CHECKPOINTABLE_OBJECT_GRAPH", "model/partitioned"], "listed without data: %s" % skipped)
    check(len(info["warnings"]) == 2, "expected 2 warnings, got %s" % info["warnings"])
    print("  string and sliced entries listed without data: %s" % skipped)
    for other in (prefix + ".index", prefix + ".data-00001-of-00002"):
        again = inspect_json(args.lmforge, other)
        check(again["tensors"] == info["tensors"], "naming the checkpoint as %s lists other tensors" % other)
    print("  the same checkpoint named by PREFIX.index and by a data shard lists the same tensors")

    small = {k: v for k, v in tensors.items() if "layer_" not in k}
    be = os.path.join(d, "be.ckpt")
    write_checkpoint(args.table_tool, be, small, num_shards=1, big_endian=True, extra_entries=False)
    check_checkpoint(args, be, small, 1, "big-endian checkpoint")
    sn = os.path.join(d, "snappy.ckpt")
    write_checkpoint(args.table_tool, sn, tensors, num_shards=3, block_size=128, restart=2, compression="snappy")
    check_checkpoint(args, sn, tensors, 3, "3-shard checkpoint, snappy index blocks")

    # Corruptions: one clean error line each, no partial output.
    bad = os.path.join(d, "bad")

    def fresh():
        copy_checkpoint(prefix, bad, 2)
        with open(bad + ".index", "rb") as f:
            return bytearray(f.read())

    def save_index(data):
        with open(bad + ".index", "wb") as f:
            f.write(bytes(data))

    out = bad + ".out.safetensors"
    fresh()
    shard = bad + ".data-00000-of-00002"
    with open(shard, "r+b") as f:
        f.seek(5)
        b = f.read(1)
        f.seek(5)
        f.write(bytes([b[0] ^ 0x40]))
    expect_clean_error(args, [args.lmforge, "convert", bad, out, "-q"], "CRC-32C mismatch", "flipped data byte", out)

    data = fresh()
    data[-3] ^= 0xFF
    save_index(data)
    expect_clean_error(args, [args.lmforge, "convert", bad, out, "-q"], "footer magic", "bad footer magic", out)

    data = fresh()
    (mo, ms), (io, isz) = footer_handles(data)
    footer = (varint(mo) + varint(ms) + varint(len(data) * 2) + varint(isz)).ljust(40, b"\0") + bytes(data[-8:])
    data[-48:] = footer
    save_index(data)
    expect_clean_error(args, [args.lmforge, "inspect", bad], "past the end", "index block handle past EOF")

    data = fresh()
    off, size = first_data_block(data)
    data[off + 1:off + 7] = b"\xff" * 6  # the first entry's unshared-length varint is now overlong
    fix_block_crc(data, off, size)
    save_index(data)
    expect_clean_error(args, [args.lmforge, "inspect", bad], "bad varint", "overlong varint (block CRC fixed up)")

    data = fresh()
    data[off + 2] ^= 0x01
    save_index(data)
    expect_clean_error(args, [args.lmforge, "inspect", bad], "CRC-32C mismatch", "flipped index byte")

    plain = os.path.join(d, "plain.index")
    leveldb_write(args.table_tool, plain, [(b"a", b"1"), (b"b", b"2")])
    expect_clean_error(args, [args.lmforge, "inspect", plain], "no bundle header", "LevelDB table that is no checkpoint")

    fresh()
    os.remove(bad + ".data-00001-of-00002")
    expect_clean_error(args, [args.lmforge, "convert", bad, out, "-q"], "is missing", "missing data shard", out)


# --- .pb files ------------------------------------------------------------------------------


def tf_tensor_proto(dtype, shape, content=None, field=None, values=(), wire="varint"):
    """TF TensorProto: dtype 1, tensor_shape 2, tensor_content 4, or a packed value list."""
    t = f_varint(1, DT[dtype]) + f_bytes(2, shape_proto(shape))
    if content is not None:
        t += f_bytes(4, content)
    elif values:
        if wire == "fixed32":
            packed = b"".join(struct.pack("<I", v) for v in values)
        else:
            packed = b"".join(varint(v) for v in values)
        t += f_bytes(field, packed)
    return t


def node_def(name, op, inputs=(), attrs=()):
    n = f_bytes(1, name.encode()) + f_bytes(2, op.encode())
    for i in inputs:
        n += f_bytes(3, i.encode())
    for key, attr_value in attrs:
        n += f_bytes(5, f_bytes(1, key.encode()) + f_bytes(2, attr_value))
    return n


def const_node(name, dtype, tensor):
    return node_def(name, "Const", attrs=[("dtype", f_varint(6, DT[dtype])), ("value", f_bytes(8, tensor))])


def make_graph_def(rng):
    """(GraphDef bytes, {const name: (safetensors dtype, numpy LE reference)}, node count)."""
    w = rng.standard_normal((3, 4)).astype("<f4")
    b2 = rng.standard_normal((2,)).astype("<f4")
    b = np.concatenate([b2, np.repeat(b2[-1:], 3)]).astype("<f4")  # TF repeats the last value
    h = rng.standard_normal((2, 3)).astype("<f2")
    ids = np.array([[-5, 2**40], [7, -2**50]], dtype="<i8")
    flags = np.array([True, False, True], dtype="?")
    nodes = [
        node_def("x", "Placeholder", attrs=[("dtype", f_varint(6, 1))]),
        const_node("dense/kernel", "float32", tf_tensor_proto("float32", w.shape, content=w.tobytes())),
        const_node("dense/bias", "float32", tf_tensor_proto("float32", (5,), field=5, wire="fixed32",
                                                            values=[int(v) for v in b2.view("<u4")])),
        const_node("half", "float16", tf_tensor_proto("float16", h.shape, field=13, values=[int(v) for v in h.view("<u2").ravel()])),
        const_node("ids", "int64", tf_tensor_proto("int64", ids.shape, field=10, values=[int(v) for v in ids.ravel()])),
        const_node("flags", "bool", tf_tensor_proto("bool", flags.shape, field=11, values=[int(v) for v in flags])),
        const_node("zeros", "float32", tf_tensor_proto("float32", (2, 2))),
        const_node("label", "string", f_varint(1, 7) + f_bytes(2, b"") + f_bytes(8, b"hello")),
        node_def("dense/MatMul", "MatMul", inputs=["x", "dense/kernel"]),
        node_def("dense/BiasAdd", "BiasAdd", inputs=["dense/MatMul", "dense/bias"]),
    ]
    graph = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(4, f_varint(1, 1))
    expect = {"dense/kernel": ("F32", w), "dense/bias": ("F32", b), "half": ("F16", h), "ids": ("I64", ids),
              "flags": ("BOOL", flags), "zeros": ("F32", np.zeros((2, 2), dtype="<f4"))}
    return graph, expect, len(nodes)


def check_pb_file(args, path, kind_word, expect, label):
    info = inspect_json(args.lmforge, path)
    check(info["format"] == "protobuf", "%s: format %r, expected protobuf" % (label, info["format"]))
    check(kind_word in info["description"], "%s: description %r lacks %r" % (label, info["description"], kind_word))
    got = {t["name"]: t for t in info["tensors"]}
    check(set(got) == set(expect), "%s: tensors %s, expected %s" % (label, sorted(got), sorted(expect)))
    for name, (dt, arr) in expect.items():
        check(got[name]["dtype"] == dt and got[name]["shape"] == list(arr.shape),
              "%s: %s listed as %s %s" % (label, name, got[name]["dtype"], got[name]["shape"]))
    if expect:
        out = path + ".safetensors"
        run([args.lmforge, "convert", path, out, "-q", "--force"])
        st = read_safetensors_raw(out)
        for name, (dt, arr) in expect.items():
            check(st[name][2] == arr.tobytes(), "%s: %s bytes differ from the reference" % (label, name))
    print("  %s: %s, %d constants match" % (label, info["description"][:60], len(expect)))
    return info


def check_pb(args, work):
    from onnx import TensorProto, helper, numpy_helper

    d = os.path.join(work, "pb")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(3)
    graph, expect, n_nodes = make_graph_def(rng)
    gpath = os.path.join(d, "frozen_graph.pb")
    with open(gpath, "wb") as f:
        f.write(graph)
    info = check_pb_file(args, gpath, "GraphDef", expect, "GraphDef with Const nodes")
    check(info["metadata"]["nodes"] == n_nodes and info["metadata"]["ops"].get("Const") == 7,
          "GraphDef node/op counts: %s" % {k: info["metadata"][k] for k in ("nodes", "ops")})
    check(any("label" in w for w in info["warnings"]), "the DT_STRING constant is not reported: %s" % info["warnings"])

    sm_dir = os.path.join(d, "saved")
    os.makedirs(sm_dir, exist_ok=True)
    k = rng.standard_normal((2, 2)).astype("<f4")
    sm_graph = f_bytes(1, const_node("c", "float32", tf_tensor_proto("float32", k.shape, content=k.tobytes())))
    meta_graph = (f_bytes(1, f_bytes(4, b"serve")) + f_bytes(2, sm_graph) +
                  f_bytes(5, f_bytes(1, b"serving_default") + f_bytes(2, b"")))
    spath = os.path.join(sm_dir, "saved_model.pb")
    with open(spath, "wb") as f:
        f.write(f_varint(1, 1) + f_bytes(2, meta_graph))
    info = check_pb_file(args, spath, "SavedModel", {"c": ("F32", k)}, "SavedModel")
    mg = info["metadata"]["meta_graphs"]
    check(mg == [{"tags": ["serve"], "signatures": ["serving_default"]}], "SavedModel meta graphs: %s" % mg)
    # The SavedModel folder itself: its variables are a checkpoint at variables/variables.
    os.makedirs(os.path.join(sm_dir, "variables"), exist_ok=True)
    sm_vars = {"dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": ("float32", rng.standard_normal((3, 2)).astype("<f4")),
               "dense/bias/.ATTRIBUTES/VARIABLE_VALUE": ("float32", rng.standard_normal((2,)).astype("<f4"))}
    write_checkpoint(args.table_tool, os.path.join(sm_dir, "variables", "variables"), sm_vars, num_shards=1,
                     extra_entries=False)
    check_checkpoint(args, sm_dir, sm_vars, 1, "SavedModel folder (variables/variables)")

    x = rng.standard_normal((2, 3, 4)).astype("<f4")
    opath = os.path.join(d, "input_0.pb")
    with open(opath, "wb") as f:
        f.write(numpy_helper.from_array(x, "input_0").SerializeToString())
    check_pb_file(args, opath, "ONNX TensorProto", {"input_0": ("F32", x)}, "ONNX TensorProto (raw_data)")
    ids = np.array([[1, -2, 3]], dtype="<i8")
    ipath = os.path.join(d, "ids.pb")
    with open(ipath, "wb") as f:
        f.write(numpy_helper.from_array(ids, "ids").SerializeToString())
    check_pb_file(args, ipath, "ONNX TensorProto", {"ids": ("I64", ids)}, "ONNX TensorProto (int64)")
    fv = rng.standard_normal((2, 2)).astype("<f4")
    fpath = os.path.join(d, "float_data.pb")
    with open(fpath, "wb") as f:
        f.write(helper.make_tensor("f", TensorProto.FLOAT, [2, 2], fv.ravel().tolist()).SerializeToString())
    check_pb_file(args, fpath, "ONNX TensorProto", {"f": ("F32", fv)}, "ONNX TensorProto (float_data)")
    hv = np.array([0.5, -1.25, 3.0], dtype="<f2")
    ht = TensorProto()
    ht.name, ht.data_type = "h", TensorProto.FLOAT16
    ht.dims.extend([3])
    ht.int32_data.extend(int(v) for v in hv.view("<u2"))  # FLOAT16 bit patterns live in int32_data
    hpath = os.path.join(d, "half_typed.pb")
    with open(hpath, "wb") as f:
        f.write(ht.SerializeToString())
    check_pb_file(args, hpath, "ONNX TensorProto", {"h": ("F16", hv)}, "ONNX TensorProto (FLOAT16 in int32_data)")

    # A SentencePiece model is protobuf too, and starts like a GraphDef: it must not be taken
    # for a .pb. One trained by sentencepiece itself, one hand-encoded.
    import io
    import sentencepiece as spm
    model = io.BytesIO()
    text = ["the quick brown fox jumps over the lazy dog %d" % i for i in range(200)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, vocab_size=40,
                                   minloglevel=3)
    hand = b"".join(f_bytes(1, f_bytes(1, p.encode()) + struct.pack("<B", 0x15) + struct.pack("<f", -1.0) + f_varint(3, 1))
                    for p in ["<unk>", "a", "b"]) + f_bytes(2, f_varint(3, 1))
    for name, blob in (("trained/tokenizer.model", model.getvalue()), ("hand/tokenizer.model", hand)):
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(blob)
        r = run([args.lmforge, "inspect", p, "--json"], check_rc=False)
        fmt = json.loads(r.stdout)["format"] if r.returncode == 0 else None
        check(fmt != "protobuf", "%s was recognised as a .pb (%s)" % (name, fmt))
        print("  %s (%d bytes): not taken for a .pb (%s)" % (
            name, len(blob), fmt or r.stderr.decode(errors="replace").strip()[:80]))


def main():
    p = base_args(__doc__)
    p.add_argument("--table-tool", required=True, help="leveldb_table_tool (built from LevelDB)")
    p.add_argument("--unit-tests", required=True, help="lmforge_formats_tests (for the TfSSTableOracle hook)")
    args = p.parse_args()
    work = workdir_for(args, "tf_checkpoint")

    def body():
        check(os.path.isfile(args.table_tool),
              "leveldb_table_tool is not built (%s): install libleveldb-dev and reconfigure" % args.table_tool)
        print("tf_checkpoint: LevelDB tables -> our SSTable reader", flush=True)
        check_sstables(args, work)
        print("tf_checkpoint: checkpoints written from the spec", flush=True)
        check_checkpoints(args, work)
        print("tf_checkpoint: .pb files", flush=True)
        check_pb(args, work)

    main_wrapper("tf_checkpoint", body)


if __name__ == "__main__":
    main()
