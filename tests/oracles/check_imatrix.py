#!/usr/bin/python3
"""lmforge imatrix and quantize --imatrix against llama.cpp's llama-imatrix and llama-quantize.

llama-imatrix and llama-quantize are built from the llama.cpp source node-llama-cpp 3.21.1 ships
(scripts/build_llama_tools.sh; LMFORGE_LLAMA_TOOLS names their folder). Calibration text: the
start of /usr/share/common-licenses/GPL-3 (Debian's base-files), N_CTX tokens a chunk, CHUNKS
chunks. Models, each converted by lmforge to an F16 GGUF (A):
  - demo8: models/demo (trained, rows 256 and 704) with its four layers repeated to eight, so
    that n_layer / 8 = 1 and the imatrix-only rule of llama.cpp (Q4_0 / Q5_0 give layer 0's
    ffn_down Q4_1 / Q5_1) is exercised; skipped when there is no models/demo;
  - the gqa-bin-sharded fixture (random weights, rows 96 and 160: the 32-block fallbacks; a
    few TYPEs only when demo8 runs, every TYPE otherwise).

Per model:
  1. `lmforge imatrix` vs `llama-imatrix` on A: the same tensor names and shapes, the same
     counts and metadata (general.type, imatrix.chunk_count, imatrix.chunk_size), and every
     in_sum2 within VALUE_TOL of llama.cpp's, relative to the tensor's largest value (the two
     engines round activations differently; measured: 2.8e-4 on demo8 and 5e-4 on the
     fixture, 4 chunks of 128).
  2. For every TYPE of issue 10 that quantizes with weights (Q4_0 ... Q6_K and the K mixes):
     `lmforge quantize A OURS TYPE --imatrix M` and `llama-quantize --imatrix M A THEIRS TYPE`
     with M = llama-imatrix's GGUF file: every tensor's type and bytes identical. One case
     must differ from lmforge's own output without --imatrix (the weights are really used).
     The fixture runs with --process-output on both sides (output.weight recorded too).
  3. Files both ways: llama-imatrix --in-file re-saves lmforge's GGUF matrix unchanged; and
     (Q4_K_M, identical bytes again) lmforge's GGUF and .dat matrices, and
     llama-imatrix's .dat, each given to both quantizers; and a matrix written by this script
     (an independent GGUF writer, below).
  4. Corrupt matrices (truncated GGUF and .dat, impossible entry counts, wrong sizes, NaN,
     negative counts, a missing .counts tensor, an empty file): lmforge quantize exits 1 with
     one `lmforge: error:` line and leaves no output; a text too short for two chunks is
     refused by lmforge imatrix the same way (exit 2: a usage error, as in lmforge perplexity).
Self-test: a flipped byte in one quantized tensor must be reported.
"""

import os
import shutil
import struct
import sys
import json
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (base_args, check, main_wrapper, run, run_node,  # noqa: E402
                    workdir_for)
from check_quantize import differences, find_llama_quantize, read_tensors, self_test  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "models", "demo")
TEXT_SOURCE = "/usr/share/common-licenses/GPL-3"
TEXT_BYTES = 24000
N_CTX = 128
CHUNKS = 4
VALUE_TOL = 2e-3
TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M",
         "Q5_K_S", "Q5_K_M", "Q6_K"]
# The fixture's rows (96, 160) send every K type to a 32-block fallback, which demo8 already
# covers with weights; a few mixes keep the check short.
FIXTURE_TYPES = ["Q4_0", "Q3_K_M", "Q4_K_M", "Q5_K_S"]


# ---------------------------------------------------------------------------------------------
# models

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    return header, data, meta


def write_safetensors(path, tensors, meta):
    """tensors: [(name, dtype, shape, bytes)]."""
    header, offset = {}, 0
    for name, dtype, shape, b in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, _, _, b in tensors:
            f.write(b)


def demo8(work):
    """models/demo with layers 4..7 copies of layers 0..3, as a Hugging Face folder."""
    out = os.path.join(work, "demo8")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name in os.listdir(DEMO):
        if name not in ("model.safetensors", "config.json") and os.path.isfile(os.path.join(DEMO, name)):
            shutil.copy(os.path.join(DEMO, name), out)
    config = json.load(open(os.path.join(DEMO, "config.json")))
    n = config["num_hidden_layers"]
    config["num_hidden_layers"] = 2 * n
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    header, data, meta = read_safetensors(os.path.join(DEMO, "model.safetensors"))
    tensors = []
    for name, t in sorted(header.items()):
        b = data[t["data_offsets"][0]:t["data_offsets"][1]]
        tensors.append((name, t["dtype"], t["shape"], b))
        if name.startswith("model.layers."):
            parts = name.split(".")
            parts[2] = str(int(parts[2]) + n)
            tensors.append((".".join(parts), t["dtype"], t["shape"], b))
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, meta)
    return out


def models(args, work):
    """[(label, F16 GGUF)]."""
    folders = []
    if os.path.isfile(os.path.join(DEMO, "config.json")):
        folders.append(("demo8", demo8(work)))
    else:
        print("models/demo is missing: the demo8 cases (8 layers, rows 256/704) are skipped", flush=True)
    folders.append(("gqa-bin-sharded", os.path.join(args.fixtures, "hf", "gqa-bin-sharded")))
    out = []
    for label, folder in folders:
        a = os.path.join(work, label + ".f16.gguf")
        run([args.lmforge, "convert", folder, a, "--outtype", "f16", "--quiet", "--force"], timeout=300)
        out.append((label, a))
    return out


# ---------------------------------------------------------------------------------------------
# imatrix files

def read_gguf_floats(path):
    """(metadata, {name: (ne, [floats])}) of a GGUF of F32 tensors, located by @huggingface/gguf."""
    info = run_node("gguf_parse.mjs", [path])
    base, out = int(info["tensor_data_offset"]), {}
    with open(path, "rb") as f:
        for t in info["tensors"]:
            check(t["dtype"] == "F32", "%s: %s is %s, not F32" % (path, t["name"], t["dtype"]))
            n = 1
            for d in t["ne"]:
                n *= int(d)
            f.seek(base + int(t["offset"]))
            out[t["name"]] = ([int(d) for d in t["ne"]], struct.unpack("<%df" % n, f.read(4 * n)))
    return info["metadata"], out


def compare_imatrix(label, ours, theirs):
    mo, o = read_gguf_floats(ours)
    mt, t = read_gguf_floats(theirs)
    check(sorted(o) == sorted(t), "%s: tensor names differ: only lmforge %s, only llama-imatrix %s"
          % (label, sorted(set(o) - set(t)), sorted(set(t) - set(o))))
    for key in ("general.type", "imatrix.chunk_count", "imatrix.chunk_size"):
        check(mo.get(key) == mt.get(key), "%s: %s is %s in lmforge's file, %s in llama-imatrix's"
              % (label, key, mo.get(key), mt.get(key)))
    worst, where = 0.0, ""
    for name in sorted(o):
        (ne_o, v_o), (ne_t, v_t) = o[name], t[name]
        check(ne_o == ne_t, "%s: %s has ne %s in lmforge's file, %s in llama-imatrix's" % (label, name, ne_o, ne_t))
        if name.endswith(".counts"):
            check(v_o == v_t, "%s: %s = %s, llama-imatrix %s" % (label, name, v_o, v_t))
            continue
        top = max(v_t)
        check(top > 0, "%s: llama-imatrix's %s is all zero" % (label, name))
        err = max(abs(a - b) for a, b in zip(v_o, v_t)) / top
        if err > worst:
            worst, where = err, name
    check(worst <= VALUE_TOL, "%s: %s differs from llama-imatrix's by %.3g of its largest value (tolerance %g)"
          % (label, where, worst, VALUE_TOL))
    print("%s: lmforge imatrix = llama-imatrix: %d tensors, counts %s, values within %.2g (worst %s)"
          % (label, len(o), sorted({v for n, (_, v) in o.items() if n.endswith(".counts")}), worst, where), flush=True)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_imatrix_gguf(path, entries, chunk_count=3, chunk_size=N_CTX, datasets=("independent",),
                       skip_counts=()):
    """A GGUF imatrix file written here, from the format's description (not by lmforge or ggml):
    entries {name: (sums, counts)}; one matrix per entry."""
    kvs = [("general.type", 8, gguf_string("imatrix")),
           ("imatrix.datasets", 9, struct.pack("<IQ", 8, len(datasets)) + b"".join(gguf_string(d) for d in datasets)),
           ("imatrix.chunk_count", 4, struct.pack("<I", chunk_count)),
           ("imatrix.chunk_size", 4, struct.pack("<I", chunk_size))]
    tensors = []
    for name in sorted(entries):
        sums, counts = entries[name]
        tensors.append((name + ".in_sum2", [len(sums)], struct.pack("<%df" % len(sums), *sums)))
        if name not in skip_counts:
            tensors.append((name + ".counts", [1], struct.pack("<f", counts)))
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, typ, value in kvs:
        head += gguf_string(key) + struct.pack("<I", typ) + value
    offset, infos, blob = 0, b"", b""
    for name, ne, data in tensors:
        infos += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        infos += struct.pack("<IQ", 0, offset)
        pad = data + b"\0" * (-len(data) % 32)
        blob += pad
        offset += len(pad)
    head += infos
    head += b"\0" * (-len(head) % 32)
    with open(path, "wb") as f:
        f.write(head + blob)


def write_imatrix_dat(path, entries, tail=True):
    """A legacy .dat: entries [(name, ncall, values)]."""
    b = struct.pack("<i", len(entries))
    for name, ncall, values in entries:
        n = name.encode()
        b += struct.pack("<i", len(n)) + n + struct.pack("<ii", ncall, len(values)) + struct.pack("<%df" % len(values), *values)
    if tail:
        b += struct.pack("<i", 3) + struct.pack("<i", 4) + b"text"
    with open(path, "wb") as f:
        f.write(b)


# ---------------------------------------------------------------------------------------------
# quantizing

def quantize_both(args, quantize, a, imatrix, qtype, stem):
    ours, theirs = stem + ".lmforge.gguf", stem + ".llama.gguf"
    for p in (ours, theirs):
        if os.path.exists(p):
            os.remove(p)
    run([args.lmforge, "quantize", a, ours, qtype, "--imatrix", imatrix, "-q"], timeout=300)
    run([quantize, "--imatrix", imatrix, a, theirs, qtype, "2"], timeout=300)
    return read_tensors(ours), read_tensors(theirs)


def expect_identical(tag, mine, ref, failures):
    diff = differences(mine, ref)
    if diff:
        failures.append("%s: %s" % (tag, "; ".join(diff[:4])))
        print("%s: DIFFERS in %d of %d tensors" % (tag, len(diff), len(ref)), flush=True)
        return False
    print("%s: %d tensors identical (%s)" % (tag, len(ref), " ".join(sorted({t for t, _, _ in mine.values()}))), flush=True)
    return True


def refused(args, cmd, out, what, status=1):
    r = run(cmd, check_rc=False, timeout=120)
    err = r.stderr.decode(errors="replace").strip().splitlines()
    check(r.returncode == status, "%s: exit %d (expected %d), stderr %s" % (what, r.returncode, status, err))
    check(len(err) == 1 and err[0].startswith("lmforge: error: "), "%s: stderr is not one error line: %s" % (what, err))
    check(not os.path.exists(out), "%s: %s was left behind" % (what, out))
    print("%s: refused: %s" % (what, err[0]), flush=True)


def corrupt_cases(args, work, a, good_gguf, good_dat):
    out = os.path.join(work, "corrupt.out.gguf")
    g = open(good_gguf, "rb").read()
    d = open(good_dat, "rb").read()
    cases = {
        "truncated.gguf": g[:len(g) // 2],
        "truncated.dat": d[:len(d) - 7],
        "empty.dat": b"",
        "huge-count.dat": struct.pack("<i", 1 << 30) + d[4:],
        "zero-count.dat": struct.pack("<i", 0) + d[4:],
    }
    for name, data in cases.items():
        open(os.path.join(work, name), "wb").write(data)
    write_imatrix_dat(os.path.join(work, "nan.dat"), [("blk.0.attn_q.weight", 1, [float("nan")] * 64)])
    write_imatrix_dat(os.path.join(work, "negative-ncall.dat"), [("blk.0.attn_q.weight", -2, [1.0] * 64)])
    write_imatrix_dat(os.path.join(work, "wrong-size.dat"), [("blk.0.attn_q.weight", 1, [1.0] * 7)])
    write_imatrix_gguf(os.path.join(work, "negative-count.gguf"), {"blk.0.attn_q.weight": ([1.0] * 64, -5.0)})
    write_imatrix_gguf(os.path.join(work, "no-counts.gguf"), {"blk.0.attn_q.weight": ([1.0] * 64, 1.0)},
                       skip_counts=("blk.0.attn_q.weight",))
    names = list(cases) + ["nan.dat", "negative-ncall.dat", "wrong-size.dat", "negative-count.gguf", "no-counts.gguf"]
    for name in names:
        if os.path.exists(out):
            os.remove(out)
        refused(args, [args.lmforge, "quantize", a, out, "Q4_K_M", "--imatrix", os.path.join(work, name)], out,
                "corrupt imatrix " + name)


# ---------------------------------------------------------------------------------------------

T0 = time.time()


def stamp(what):
    print("[%5.1f s] %s" % (time.time() - T0, what), flush=True)


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--llama-tools", default=os.environ.get("LMFORGE_LLAMA_TOOLS", ""),
                    help="folder holding llama-imatrix and llama-quantize")
    args = ap.parse_args()
    quantize = find_llama_quantize(args.llama_tools)
    imatrix_tool = os.path.join(args.llama_tools, "llama-imatrix")
    check(os.access(imatrix_tool, os.X_OK), "%s is missing: build it with scripts/build_llama_tools.sh" % imatrix_tool)
    work = workdir_for(args, "imatrix")
    text = os.path.join(work, "calibration.txt")
    data = open(TEXT_SOURCE, "rb").read()[:TEXT_BYTES]
    open(text, "wb").write(data[:len(data.decode("utf-8", errors="ignore").encode("utf-8"))])

    failures, self_tested, weights_matter = [], False, False
    inputs = models(args, work)
    labels = [label for label, _ in inputs]
    for label, a in inputs:
        stem = os.path.join(work, label)
        common = ["-f", text, "-c", str(N_CTX), "--chunks", str(CHUNKS), "-t", "2"]
        if label != "demo8":  # the fixture has its own head: record it too (demo8's is tied)
            common.append("--process-output")
        theirs_gguf, theirs_dat = stem + ".llama.imatrix.gguf", stem + ".llama.imatrix.dat"
        ours_gguf, ours_dat = stem + ".lmforge.imatrix.gguf", stem + ".lmforge.imatrix.dat"
        run([imatrix_tool, "-m", a, "-o", theirs_gguf] + common, timeout=300)
        run([args.lmforge, "imatrix", "-m", a, "-o", ours_gguf, "--force", "-q"] + common, timeout=300)
        run([args.lmforge, "imatrix", "-m", a, "-o", ours_dat, "--output-format", "dat", "--force", "-q"] + common,
            timeout=300)
        stamp("%s: both importance matrices made" % label)
        compare_imatrix(label, ours_gguf, theirs_gguf)
        if "--process-output" in common:
            _, entries = read_gguf_floats(ours_gguf)
            check("output.weight.in_sum2" in entries, "%s: --process-output recorded no output.weight" % label)
        # llama-imatrix reads lmforge's file back (--in-file, no text: it only re-saves it).
        resaved = stem + ".resaved.imatrix.gguf"
        run([imatrix_tool, "-m", a, "--in-file", ours_gguf, "-o", resaved, "-c", str(N_CTX)], timeout=120)
        _, a_entries = read_gguf_floats(ours_gguf)
        _, b_entries = read_gguf_floats(resaved)
        check(a_entries == b_entries, "%s: llama-imatrix --in-file changed lmforge's matrix when re-saving it" % label)
        print("%s: llama-imatrix --in-file reads lmforge's matrix back unchanged" % label, flush=True)

        for qtype in (TYPES if label == "demo8" or len(labels) == 1 else FIXTURE_TYPES):
            mine, ref = quantize_both(args, quantize, a, theirs_gguf, qtype, "%s.%s" % (stem, qtype.lower()))
            if expect_identical("%s/%s --imatrix llama-imatrix.gguf" % (label, qtype), mine, ref, failures) and not self_tested:
                self_test(mine, ref)
                self_tested = True
            if qtype == "Q4_K_M":
                plain = stem + ".q4_k_m.plain.gguf"
                run([args.lmforge, "quantize", a, plain, qtype, "-q", "--force"], timeout=300)
                if differences(read_tensors(plain), mine):
                    weights_matter = True

        stamp("%s: every type compared" % label)
        moves = [("lmforge imatrix .gguf", ours_gguf), ("lmforge imatrix .dat", ours_dat)]
        if label != "demo8":  # one llama-imatrix .dat is enough, and the fixture's is fast
            run([imatrix_tool, "-m", a, "-o", theirs_dat, "--output-format", "dat"] + common, timeout=300)
            moves.append(("llama-imatrix .dat", theirs_dat))
            # An independent writer's file: every weight matrix of the fixture, random-ish sums.
            shapes = {t["name"]: int(t["ne"][0]) for t in run_node("gguf_parse.mjs", [a])["tensors"]
                      if t["name"].startswith("blk.") and len(t["ne"]) == 2}
            indep = stem + ".independent.imatrix.gguf"
            write_imatrix_gguf(indep, {n: ([((i * 7919) % 101 + 1) * 0.37 for i in range(cols)], 384.0)
                                       for n, cols in shapes.items()})
            moves.append(("an independently written .gguf", indep))
        for what, path in moves:
            mine, ref = quantize_both(args, quantize, a, path, "Q4_K_M", "%s.moves" % stem)
            expect_identical("%s/Q4_K_M --imatrix %s" % (label, what), mine, ref, failures)

        if label != "demo8":
            corrupt_cases(args, work, a, ours_gguf, ours_dat)
            short = os.path.join(work, "short.txt")
            open(short, "w").write("Too short for two chunks.\n")
            out = os.path.join(work, "short.imatrix.gguf")
            if os.path.exists(out):
                os.remove(out)
            refused(args, [args.lmforge, "imatrix", "-m", a, "-f", short, "-o", out, "-c", str(N_CTX)], out,
                    "calibration text shorter than two chunks", status=2)  # a usage error, as perplexity's

    check(not failures, "lmforge and llama-quantize disagree:\n  " + "\n  ".join(failures))
    check(self_tested, "the self-test never ran")
    check(weights_matter, "quantize --imatrix wrote the same bytes as without it: the weights were not used")


if __name__ == "__main__":
    main_wrapper("check_imatrix", main)
