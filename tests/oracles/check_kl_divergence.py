#!/usr/bin/python3
"""`lmforge perplexity --kl-divergence-base / --kl-divergence` against llama.cpp's llama-perplexity.

llama-perplexity is built from the llama.cpp source node-llama-cpp 3.21.1 ships
(scripts/build_llama_tools.sh; LMFORGE_LLAMA_TOOLS names its folder) and runs with
llama_log_drain.cpp preloaded (its logger loses the last lines, the statistics, at exit). Model: the demo model
(models/demo), or while it is not in the tree the first fixture model, converted by lmforge to
an F16 GGUF (the base) and quantized to Q4_0 (the model compared with it). Text: the first
TEXT_BYTES of /usr/share/common-licenses/GPL-3, N_CTX tokens a chunk (about 8 chunks, 500
scored positions: llama.cpp prints its final statistics from 100 on).

  (a) llama-perplexity writes the base file A from F16; `lmforge perplexity -m Q4_0
      --kl-divergence-base A --kl-divergence --json` and llama-perplexity's own --kl-divergence
      on A must agree: PPL(base) within 1e-4 (both decode the same file), PPL(Q) within 1 %
      (the engines' arithmetic differs; oracle.perplexity's tolerance), mean KLD within 5 %,
      median and 99 % KLD within 10 %, RMS delta p within 10 %, same-top within 1.5 points
      (a few positions of 500 whose two best tokens are nearly tied can flip); lmforge with
      -b 16 (16 tokens per evaluation) gives the mean KLD of whole chunks within 1e-4.
  (b) lmforge writes the base file B from F16: the same header and tokens as A, and rows that
      decode to nearly the same distributions (|mean KL(A||B)| below FILE_KLD_TOL and every
      log-probability within FILE_LOGP_TOL: only the two engines' rounding); llama-perplexity reads B (--kl-divergence with Q4_0) and agrees with
      lmforge reading B, as in (a).
  (c) corrupt base files (truncated, wrong magic, n_vocab of another model, huge n_ctx, a token
      outside the vocabulary, a trailing byte, a NaN row scale), --kl-divergence without a
      base file, and an existing base file without --force: exit 1 (2 for usage) with one
      `lmforge: error:` line each, and nothing on stdout.
Self-tests: a base file written from the Q4_0 model itself (C) must be farther from A than
FILE_KLD_TOL, and lmforge's KLD against C (near 0) must be outside (a)'s KLD tolerance of
llama.cpp's against A, so both comparisons can fail.
"""

import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    main_wrapper, run, workdir_for)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "models", "demo")
TEXT_SOURCE = "/usr/share/common-licenses/GPL-3"
TEXT_BYTES = 3300
N_CTX = 128
FILE_KLD_TOL = 1e-5
FILE_LOGP_TOL = 0.05  # measured 0.0042 on the demo model: the engines' float rounding
TOL = {"ppl_base": 1e-4, "ppl": 0.01, "kld": 0.05, "kld_median": 0.10, "kld_99": 0.10, "p_diff_rms": 0.10}
SAME_TOP_POINTS = 1.5


def find_llama_perplexity(folder):
    how = ("build it with `scripts/build_llama_tools.sh` (after scripts/install_oracles.sh) and "
           "configure with -DLMFORGE_LLAMA_TOOLS=<the folder it prints>; scripts/test.sh does both")
    check(folder, "llama.cpp's tools are not configured (LMFORGE_LLAMA_TOOLS is empty): " + how)
    exe = os.path.join(folder, "llama-perplexity")
    check(os.access(exe, os.X_OK), "%s is missing or not executable: %s" % (exe, how))
    return exe


# ---------------------------------------------------------------------------------------------
# the two programs

def run_llama(cmd, drain):
    """Runs a llama.cpp tool with the log-drain library preloaded (llama_log_drain.cpp says why)."""
    env = dict(os.environ, LD_PRELOAD=drain)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        raise CheckFailed("timed out: %s" % " ".join(cmd))
    check(r.returncode == 0, "exit status %d from %s\n%s" % (r.returncode, " ".join(cmd),
                                                             r.stderr.decode(errors="replace")[-3000:]))
    return r


def llama_base(exe, drain, gguf, text, base):
    run_llama([exe, "-m", gguf, "-f", text, "-c", str(N_CTX), "-b", str(N_CTX), "-t", "2",
         "--kl-divergence-base", base], drain)
    check(os.path.isfile(base), "llama-perplexity wrote no %s" % base)


def llama_kld(exe, drain, gguf, base):
    """llama-perplexity --kl-divergence's final statistics, as numbers (fractions, not %)."""
    r = run_llama([exe, "-m", gguf, "-c", str(N_CTX), "-b", str(N_CTX), "-t", "2", "--kl-divergence-base", base,
                   "--kl-divergence"], drain)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    num = r"(-?[\d.]+)"

    def grab(pattern, scale=1.0):
        m = re.search(pattern, out)
        check(m, "llama-perplexity printed no %r:\n%s" % (pattern, out[-3000:]))
        return float(m.group(1)) * scale
    return {"ppl": grab(r"Mean PPL\(Q\)\s*:\s*" + num),
            "ppl_base": grab(r"Mean PPL\(base\)\s*:\s*" + num),
            "kld": grab(r"Mean    KLD:\s*" + num),
            "kld_median": grab(r"Median  KLD:\s*" + num),
            "kld_99": grab(r"99\.0%   KLD:\s*" + num),
            "p_diff_rms": grab(r"RMS Δp    :\s*" + num, 0.01),
            "same_top": grab(r"Same top p:\s*" + num, 0.01)}


def lmforge_base(lmforge, gguf, text, base):
    j = json.loads(run([lmforge, "perplexity", "-m", gguf, "-f", text, "-c", str(N_CTX), "-t", "2",
                        "--kl-divergence-base", base, "--force", "--json"], timeout=600).stdout)
    check(j.get("kl_divergence_base") == base, "lmforge's JSON does not name the base file: %r" % j)
    return j


def lmforge_kld(lmforge, gguf, base, *extra):
    j = json.loads(run([lmforge, "perplexity", "-m", gguf, "-t", "2", "--kl-divergence-base", base,
                        "--kl-divergence", "--json"] + list(extra), timeout=600).stdout)
    return {"ppl": j["ppl"]["value"], "ppl_base": j["ppl_base"]["value"], "kld": j["kld"]["value"],
            "kld_median": j["kld_percentiles"]["median"], "kld_99": j["kld_percentiles"]["99"],
            "p_diff_rms": j["p_diff_rms"]["value"], "same_top": j["same_top"]["value"],
            "count": j["tokens_scored"], "n_chunks": j["n_chunks"]}


def compare(what, ours, theirs):
    """Problems with lmforge's statistics against llama-perplexity's (empty: they agree)."""
    problems = []
    for key, tol in TOL.items():
        rel = abs(ours[key] - theirs[key]) / max(abs(theirs[key]), 1e-12)
        if rel > tol:
            problems.append("%s: %s %.6g vs llama.cpp %.6g (%.2f %% apart, limit %.2f %%)"
                            % (what, key, ours[key], theirs[key], 100 * rel, 100 * tol))
    points = 100 * abs(ours["same_top"] - theirs["same_top"])
    if points > SAME_TOP_POINTS:
        problems.append("%s: same top %.3f %% vs llama.cpp %.3f %% (%.2f points apart, limit %.1f)"
                        % (what, 100 * ours["same_top"], 100 * theirs["same_top"], points, SAME_TOP_POINTS))
    return problems


# ---------------------------------------------------------------------------------------------
# the file, read here independently of both programs (llama.cpp's layout)

def read_base(path):
    b = open(path, "rb").read()
    check(b[:8] == b"_logits_", "%s: no _logits_ magic" % path)
    n_ctx, n_vocab, n_chunks = struct.unpack("<Iii", b[8:20])
    tokens = np.frombuffer(b, np.int32, n_ctx * n_chunks, 20)
    words = 2 * ((n_vocab + 1) // 2) + 4
    rows_at = 20 + 4 * n_ctx * n_chunks
    n_rows = n_chunks * (n_ctx - 1 - n_ctx // 2)
    check(len(b) == rows_at + 2 * words * n_rows, "%s: %d bytes, the header accounts for %d"
          % (path, len(b), rows_at + 2 * words * n_rows))
    rows = np.frombuffer(b, np.uint16, words * n_rows, rows_at).reshape(n_rows, words)
    head = rows[:, :4].copy().view(np.float32)
    log_probs = head[:, 0:1].astype(np.float64) * rows[:, 4:4 + n_vocab] + head[:, 1:2]
    return (n_ctx, n_vocab, n_chunks), tokens, log_probs


def file_kld(a, b):
    """Mean KL(A||B) over the rows, with A's resolved tokens (log p > -16), as llama.cpp sums."""
    keep = a > -16
    return float(np.mean(np.sum(np.where(keep, np.exp(a) * (a - b), 0.0), axis=1)))


# ---------------------------------------------------------------------------------------------
# bad input

def corrupt_cases(a_path, n_vocab, work):
    good = open(a_path, "rb").read()
    n_ctx, _, n_chunks = struct.unpack("<Iii", good[8:20])
    row1 = 20 + 4 * n_ctx * n_chunks + 2 * (2 * ((n_vocab + 1) // 2) + 4)

    def patched(at, data):
        return good[:at] + data + good[at + len(data):]
    cases = [("truncated rows", good[:len(good) - 1000]),
             ("truncated header", good[:14]),
             ("wrong magic", patched(0, b"_logitz_")),
             ("n_vocab of another model", patched(12, struct.pack("<i", n_vocab + 1))),
             ("huge n_ctx", patched(8, struct.pack("<I", 0x7fffffff))),
             ("n_ctx the file cannot hold", patched(8, struct.pack("<I", 1 << 20))),
             ("token outside the vocabulary", patched(20 + 4 * 5, struct.pack("<i", n_vocab))),
             ("a trailing byte", good + b"\0"),
             ("NaN row scale", patched(row1, struct.pack("<f", float("nan"))))]
    out = []
    for what, data in cases:
        path = os.path.join(work, "bad-%s.kld" % what.replace(" ", "-"))
        with open(path, "wb") as f:
            f.write(data)
        out.append((what, path))
    return out


def expect_one_error(what, cmd, codes=(1,)):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    err = r.stderr.decode(errors="replace").strip().splitlines()
    check(r.returncode in codes and len(err) == 1 and err[0].startswith("lmforge: error:") and not r.stdout,
          "%s: exit %d, stderr %r, stdout %r" % (what, r.returncode, err, r.stdout[:200]))
    print("bad input, %s: %s" % (what, err[0]), flush=True)
    return err[0]


def check_bad_input(lmforge, q4, text, a_path, n_vocab, work):
    for what, path in corrupt_cases(a_path, n_vocab, work):
        line = expect_one_error(what, [lmforge, "perplexity", "-m", q4, "--kl-divergence-base", path,
                                       "--kl-divergence", "--json"])
        check(path in line and "(at byte" in line, "%s: the error names neither the file nor the byte: %s"
              % (what, line))
    expect_one_error("--kl-divergence without a base file", [lmforge, "perplexity", "-m", q4, "--kl-divergence"],
                     codes=(2,))
    expect_one_error("an existing base file without --force",
                     [lmforge, "perplexity", "-m", q4, "-f", text, "-c", str(N_CTX), "--kl-divergence-base", a_path])


# ---------------------------------------------------------------------------------------------

def pick_model(args):
    if os.path.isfile(os.path.join(args.demo, "config.json")):
        return args.demo, "demo model"
    manifest = fixture_manifest(args.fixtures)
    m = manifest["models"][0]
    return os.path.join(args.fixtures, m["path"]), "fixture %s (no models/demo)" % m["name"]


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--llama-tools", default=os.environ.get("LMFORGE_LLAMA_TOOLS", ""))
    ap.add_argument("--demo", default=DEMO)
    ap.add_argument("--log-drain", required=True, help="llama_log_drain.so, built from llama_log_drain.cpp")
    args = ap.parse_args()
    exe = find_llama_perplexity(args.llama_tools)
    drain = os.path.abspath(args.log_drain)
    check(os.path.isfile(drain), "%s is not built" % drain)
    work = workdir_for(args, "kl_divergence")
    folder, label = pick_model(args)
    f16 = os.path.join(work, "model.f16.gguf")
    q4 = os.path.join(work, "model.q4_0.gguf")
    run([args.lmforge, "convert", folder, f16, "--outtype", "f16", "--quiet", "--force"], timeout=300)
    run([args.lmforge, "quantize", f16, q4, "Q4_0", "--force", "-q"], timeout=300)
    text = os.path.join(work, "text.txt")
    data = open(TEXT_SOURCE, "rb").read(TEXT_BYTES)
    with open(text, "wb") as f:
        f.write(data[:data.rfind(b"\n") + 1])
    a_path, b_path, c_path = (os.path.join(work, n) for n in ("A.llama.kld", "B.lmforge.kld", "C.q4_0.kld"))
    for p in (a_path, b_path, c_path):
        if os.path.exists(p):
            os.remove(p)
    print("%s, %d bytes of %s, -c %d" % (label, os.path.getsize(text), TEXT_SOURCE, N_CTX), flush=True)
    failures = []

    # (a) llama.cpp's base file, both programs reading it
    llama_base(exe, drain, f16, text, a_path)
    ours_a, theirs_a = lmforge_kld(args.lmforge, q4, a_path), llama_kld(exe, drain, q4, a_path)
    print("(a) base by llama.cpp, %d positions in %d chunks:\n  lmforge   %s\n  llama.cpp %s"
          % (ours_a["count"], ours_a["n_chunks"], ours_a, theirs_a), flush=True)
    check(ours_a["count"] >= 100, "only %d positions: too few for llama.cpp's statistics" % ours_a["count"])
    failures += compare("(a) base by llama.cpp", ours_a, theirs_a)
    batched = lmforge_kld(args.lmforge, q4, a_path, "-b", "16")
    if abs(batched["kld"] - ours_a["kld"]) > 1e-4 * ours_a["kld"]:
        failures.append("(a) -b 16 gives mean KLD %.8g, the whole chunk at once %.8g" % (batched["kld"], ours_a["kld"]))

    # (b) lmforge's base file: the same contents, and llama.cpp reads it
    j = lmforge_base(args.lmforge, f16, text, b_path)
    head_a, tokens_a, lp_a = read_base(a_path)
    head_b, tokens_b, lp_b = read_base(b_path)
    check(head_a == head_b, "header (n_ctx, n_vocab, n_chunks): llama.cpp %s, lmforge %s" % (head_a, head_b))
    check(np.array_equal(tokens_a, tokens_b), "the base files' tokens differ at %d positions"
          % int(np.sum(tokens_a != tokens_b)))
    kld_ab, diff_ab = file_kld(lp_a, lp_b), float(np.max(np.abs(lp_a - lp_b)))
    print("(b) base by lmforge: same header %s and tokens; mean KL(A||B) = %.3g, max |log p| difference %.4f; "
          "lmforge's PPL of F16 %.4f" % (head_b, kld_ab, diff_ab, j["ppl"]), flush=True)
    if abs(kld_ab) > FILE_KLD_TOL or diff_ab > FILE_LOGP_TOL:
        failures.append("(b) the two base files' distributions differ: mean KL %.3g (limit %.1g), largest log p "
                        "difference %.4f (limit %.2f)" % (kld_ab, FILE_KLD_TOL, diff_ab, FILE_LOGP_TOL))
    ours_b, theirs_b = lmforge_kld(args.lmforge, q4, b_path), llama_kld(exe, drain, q4, b_path)
    print("  lmforge   %s\n  llama.cpp %s" % (ours_b, theirs_b), flush=True)
    failures += compare("(b) base by lmforge", ours_b, theirs_b)
    # PPL(base) from a file is not the writing run's PPL: a row resolves 16 nats below its top
    # token, so a target below that counts at the floor; the two files must agree on it.
    if abs(ours_b["ppl_base"] - ours_a["ppl_base"]) > 1e-3 * ours_a["ppl_base"]:
        failures.append("(b) PPL(base) from lmforge's file %.5f, from llama.cpp's %.5f"
                        % (ours_b["ppl_base"], ours_a["ppl_base"]))

    # self-tests: a base file of the wrong model is visible to both comparisons
    lmforge_base(args.lmforge, q4, text, c_path)
    _, _, lp_c = read_base(c_path)
    kld_ac, diff_ac = file_kld(lp_a, lp_c), float(np.max(np.abs(lp_a - lp_c)))
    ours_c = lmforge_kld(args.lmforge, q4, c_path)
    print("self-test: the Q4_0 model's own base file is %.3g from A (limit %.1g), log p up to %.3f apart (limit %.2f); "
          "lmforge's KLD against it %.3g" % (kld_ac, FILE_KLD_TOL, diff_ac, FILE_LOGP_TOL, ours_c["kld"]), flush=True)
    check(abs(kld_ac) > FILE_KLD_TOL and diff_ac > FILE_LOGP_TOL,
          "self-test: a base file of another model is within FILE_KLD_TOL / FILE_LOGP_TOL of A")
    check(any(p.startswith("self-test: kld ") for p in compare("self-test", ours_c, theirs_a)),
          "self-test: the KLD against the wrong base is within tolerance of llama.cpp's: the check cannot see it")

    # (c) bad input
    try:
        check_bad_input(args.lmforge, q4, text, a_path, head_a[1], work)
    except CheckFailed as e:
        failures.append(str(e))
    check(not failures, "%d failure(s):\n  %s" % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_kl_divergence", main)
