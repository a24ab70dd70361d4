#!/usr/bin/python3
"""`lmforge perplexity` against llama.cpp's perplexity method run on llama.cpp's own
probabilities (node-llama-cpp) over the same token windows.

Model and text: the demo model (models/demo, an HF folder) on held-out Brown text
(tools/brown_text.py --split heldout), the first TEXT_BYTES of it; while the demo model is not
in the tree, a fixture model on /usr/share/common-licenses/GPL-3 instead. The model is
converted to GGUF f32 and q8_0. Per file:
  - `lmforge perplexity -c N_CTX --json` gives ppl, n_chunks, tokens_scored;
  - the text tokenized by libsentencepiece with BOS (the tokenizer oracle holds lmforge's ids
    identical to these) is cut as llama.cpp's perplexity tool cuts it: floor(n / N_CTX) chunks,
    each with BOS as its first token, and llama.cpp gives, from an empty cache per chunk, the
    probability of each token at chunk positions N_CTX/2 + 1 .. N_CTX - 1;
  - ppl = exp(mean -log p) must agree with lmforge's within 1 % (REL_TOL), the chunk and token
    counts exactly, and lmforge's standard error must match the same arithmetic on llama.cpp's
    values within 5 %.
  - on the first 4 KB, `-b 16` (16 tokens per evaluation) gives the PPL of whole-chunk
    evaluation within 1e-4.
Self-test: llama.cpp's distributions scored against the wrong targets (the token just fed in,
not the next one: labels not shifted) must give a PPL farther than REL_TOL away.
Bad input: a text of fewer than 2 chunks, -c 4, a missing file and a file that is not UTF-8 must
each exit non-zero with one `lmforge: error:` line.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    main_wrapper, run, run_node, workdir_for)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "models", "demo")
BROWN = os.path.join(ROOT, "tools", "brown_text.py")
TEXT_BYTES = 12_000  # ~4k tokens of a Brown-trained tokenizer: ~32 chunks, ~2k scored tokens
N_CTX = 128
REL_TOL = 0.01
TYPES = ("f32", "q8_0")


def pick_model_and_text(args, work):
    """(HF folder, tokenizer.model, text file, label)."""
    text = os.path.join(work, "heldout.txt")
    demo = args.demo
    if os.path.isfile(os.path.join(demo, "config.json")) and os.path.isfile(BROWN):
        full = os.path.join(work, "heldout.full.txt")
        run(["/usr/bin/python3", BROWN, "--split", "heldout", "--out", full], timeout=300)
        data = open(full, "rb").read()
        label = "demo model, held-out Brown text"
        folder = demo
    else:
        manifest = fixture_manifest(args.fixtures)
        folder = os.path.join(args.fixtures, manifest["models"][0]["path"])
        data = open("/usr/share/common-licenses/GPL-3", "rb").read()
        label = "fixture %s (no models/demo yet), GPL-3 text" % manifest["models"][0]["name"]
    data = data[:TEXT_BYTES]
    data = data[:len(data.decode("utf-8", errors="ignore").encode("utf-8"))]  # whole characters
    with open(text, "wb") as f:
        f.write(data)
    tokenizer = os.path.join(folder, "tokenizer.model")
    check(os.path.isfile(tokenizer), "%s has no tokenizer.model" % folder)
    return folder, tokenizer, text, label


def lmforge_ppl(lmforge, gguf, text, *extra):
    r = run([lmforge, "perplexity", "-m", gguf, "-f", text, "-c", str(N_CTX), "-t", "2", "--json"] + list(extra),
            timeout=600)
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise CheckFailed("lmforge perplexity --json printed no JSON (%s): %r" % (e, r.stdout[:300]))


def llama_cpp_probs(gguf, work, ids, bos, wrong_too=False):
    """(chunks, llama.cpp's probabilities of the scored tokens [, of the wrong targets])."""
    n_chunks = len(ids) // N_CTX
    chunks = []
    for c in range(n_chunks):
        chunk = ids[c * N_CTX:(c + 1) * N_CTX]
        chunk[0] = bos
        chunks.append(chunk)
    req = os.path.join(work, os.path.basename(gguf) + ".ppl-request.json")
    with open(req, "w") as f:
        json.dump({"chunks": chunks, "first": N_CTX // 2, "wrong_too": wrong_too}, f)
    out = run_node("llama_perplexity.mjs", [gguf, req], timeout=600)
    probs = out["probs"]
    check(len(probs) == n_chunks and all(len(p) == N_CTX - N_CTX // 2 - 1 for p in probs),
          "llama_perplexity.mjs answered %d chunks of %s values" % (len(probs), {len(p) for p in probs}))
    if wrong_too:
        return chunks, np.array(probs, dtype=np.float64), np.array(out["wrong"], dtype=np.float64)
    return chunks, np.array(probs, dtype=np.float64), None


def ppl_of(nll):
    nll = np.asarray(nll, dtype=np.float64).ravel()
    mean = nll.mean()
    var = (nll * nll).mean() - mean * mean
    err = math.sqrt(var / (len(nll) - 1)) * math.exp(mean) if var > 0 else 0.0
    return math.exp(mean), err


def check_bad_input(lmforge, gguf, work):
    short = os.path.join(work, "short.txt")
    with open(short, "w") as f:
        f.write("only a few words here\n")
    not_utf8 = os.path.join(work, "latin1.txt")
    with open(not_utf8, "wb") as f:
        f.write(b"caf\xe9 " * 2000)
    cases = [("text shorter than two chunks", ["-f", short]),
             ("-c 4", ["-f", short, "-c", "4"]),
             ("missing file", ["-f", os.path.join(work, "no-such-file.txt")]),
             ("invalid UTF-8", ["-f", not_utf8])]
    for what, extra in cases:
        r = subprocess.run([lmforge, "perplexity", "-m", gguf] + extra, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        err = r.stderr.decode(errors="replace").strip().splitlines()
        check(r.returncode in (1, 2) and len(err) == 1 and err[0].startswith("lmforge: error:")
              and not r.stdout, "perplexity with %s: exit %d, stderr %r, stdout %r"
              % (what, r.returncode, err, r.stdout[:200]))
        print("bad input, %s: %s" % (what, err[0]), flush=True)


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--demo", default=DEMO, help="trained HF folder to use (default: models/demo)")
    args = ap.parse_args()
    work = workdir_for(args, "perplexity")
    folder, tokenizer, text, label = pick_model_and_text(args, work)
    trained = folder == args.demo
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
    bos = sp.bos_id()
    ids = [bos] + sp.encode(open(text, encoding="utf-8").read())
    print("%s: %d bytes, %d tokens, %d chunks of %d" % (label, os.path.getsize(text), len(ids),
                                                        len(ids) // N_CTX, N_CTX), flush=True)
    failures = []
    for outtype in TYPES:
        gguf = os.path.join(work, "model.%s.gguf" % outtype)
        if os.path.exists(gguf):
            os.remove(gguf)
        run([args.lmforge, "convert", folder, gguf, "--outtype", outtype, "--quiet"], timeout=300)
        ours = lmforge_ppl(args.lmforge, gguf, text)
        chunks, p, wrong = llama_cpp_probs(gguf, work, ids, bos, wrong_too=outtype == TYPES[0])
        check(np.all(p > 0), "%s: llama.cpp gave probability 0 to a scored token" % outtype)
        ref_ppl, ref_err = ppl_of(-np.log(p))
        rel = abs(ours["ppl"] - ref_ppl) / ref_ppl
        print("%s: lmforge PPL = %.4f +/- %.4f, llama.cpp (same windows) %.4f +/- %.4f, "
              "difference %.3f %%" % (outtype, ours["ppl"], ours["ppl_error"], ref_ppl, ref_err, 100 * rel),
              flush=True)
        try:
            check(ours["n_tokens"] == len(ids), "%s: lmforge tokenized the text into %d tokens, "
                  "libsentencepiece + BOS into %d" % (outtype, ours["n_tokens"], len(ids)))
            check(ours["n_chunks"] == len(chunks) and ours["tokens_scored"] == p.size,
                  "%s: lmforge scored %d chunks / %d tokens, llama.cpp's method %d / %d"
                  % (outtype, ours["n_chunks"], ours["tokens_scored"], len(chunks), p.size))
            check(len(ours["chunk_ppl"]) == len(chunks), "%s: %d running values for %d chunks"
                  % (outtype, len(ours["chunk_ppl"]), len(chunks)))
            check(rel <= REL_TOL, "%s: lmforge PPL %.4f vs llama.cpp %.4f: %.2f %% apart (limit %.0f %%)"
                  % (outtype, ours["ppl"], ref_ppl, 100 * rel, 100 * REL_TOL))
            check(abs(ours["ppl_error"] - ref_err) <= 0.05 * ref_err,
                  "%s: lmforge's error %.5f vs %.5f from the same arithmetic on llama.cpp's values"
                  % (outtype, ours["ppl_error"], ref_err))
            # running value after the first chunk: that chunk's own ppl
            first_ppl, _ = ppl_of(-np.log(p[0]))
            check(abs(ours["chunk_ppl"][0] - first_ppl) <= REL_TOL * first_ppl,
                  "%s: running PPL after chunk 1 is %.4f, llama.cpp's chunk 1 gives %.4f"
                  % (outtype, ours["chunk_ppl"][0], first_ppl))
            if outtype == TYPES[0]:
                # batching: the first 4 KB, whole chunks vs 16 tokens per evaluation
                short = os.path.join(work, "heldout.4k.txt")
                with open(text, "rb") as f:
                    data = f.read(4096)
                with open(short, "wb") as f:
                    f.write(data[:len(data.decode("utf-8", errors="ignore").encode("utf-8"))])
                whole = lmforge_ppl(args.lmforge, gguf, short)
                batched = lmforge_ppl(args.lmforge, gguf, short, "-b", "16")
                check(abs(batched["ppl"] - whole["ppl"]) <= 1e-4 * whole["ppl"],
                      "-b 16 gives PPL %.6f, the whole chunk at once %.6f" % (batched["ppl"], whole["ppl"]))
                # self-test: scoring each position's distribution against the token just fed
                # in instead of the next one (labels not shifted) must be visible at REL_TOL.
                wrong_ppl, _ = ppl_of(-np.log(np.maximum(wrong, 1e-30)))
                srel = abs(wrong_ppl - ref_ppl) / ref_ppl
                print("self-test: unshifted targets give PPL %.4f (%.1f %% away)" % (wrong_ppl, 100 * srel),
                      flush=True)
                # A fixture model's random weights barely use the context (PPL in the millions
                # whatever is scored); only a trained model makes the self-test meaningful.
                if trained:
                    check(srel > REL_TOL, "self-test: scoring the wrong targets moves the PPL by only %.2f %%, "
                          "within the tolerance: the check cannot see it" % (100 * srel))
                else:
                    print("self-test: not enforced on an untrained fixture model", flush=True)
                check_bad_input(args.lmforge, gguf, work)
        except CheckFailed as e:
            print("  FAIL: %s" % e, flush=True)
            failures.append(str(e))
    check(not failures, "%d failure(s):\n  %s" % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_perplexity", main)
