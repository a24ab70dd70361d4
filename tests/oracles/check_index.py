#!/usr/bin/python3
"""`lmforge index` / `lmforge ask` end to end, checked with Python's own sqlite3 module (an SQLite
reader nobody here wrote): the --json formats, incremental runs, kill -9 at many points of an
index run (the database must pass PRAGMA integrity_check and FTS5's integrity-check, hold every
file fully or not at all, and the next run must finish the job), and bad input (a database that
is not ours or is corrupt, refused and left byte for byte; binary files; empty files; huge
lines; FTS syntax and quotes in questions; a question longer than the context). The approximate
index (DB.hnsw, forced on small indexes with LMFORGE_ANN_MIN_CHUNKS) must find what exact search
finds, be rebuilt when stale or damaged, and survive an `ask` killed while it builds it.

Uses the model-free hashing embedder (-m hash:DIM) and the committed demo chat model.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_MODEL = os.path.join(HERE, "..", "..", "models", "demo")


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


ANN_ENV = dict(os.environ, LMFORGE_ANN_MIN_CHUNKS="1")  # the approximate index on any index


def run(cmd, expect_rc=0, timeout=300, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    if expect_rc is not None and r.returncode != expect_rc:
        raise CheckFailed("exit status %d (expected %d) from %s\nstdout:\n%s\nstderr:\n%s" % (
            r.returncode, expect_rc, " ".join(cmd), r.stdout.decode(errors="replace")[-2000:],
            r.stderr.decode(errors="replace")[-2000:]))
    return r


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def db_state(db):
    """{path: (sha256, n_chunks, n_vectors)} read with Python's sqlite3, after checking integrity."""
    con = sqlite3.connect(db)
    try:
        verdict = con.execute("PRAGMA integrity_check").fetchall()
        check(verdict == [("ok",)], "%s: integrity_check says %r" % (db, verdict))
        con.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        check(app_id == 0x6C6D6669, "%s: application_id %#x" % (db, app_id))
        state = {}
        for path, sha, doc_id, has_vectors in con.execute(
                "SELECT path, sha256, id, has_vectors FROM documents"):
            n_chunks = con.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (doc_id,)).fetchone()[0]
            n_vectors = con.execute("SELECT count(*) FROM vectors v JOIN chunks c ON c.id = v.chunk_id "
                                    "WHERE c.document_id = ?", (doc_id,)).fetchone()[0]
            state[path] = (sha, n_chunks, n_vectors if has_vectors else -1)
        orphans = con.execute("SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)").fetchone()[0]
        check(orphans == 0, "%s: %d chunks without a document" % (db, orphans))
        return state
    finally:
        con.rollback()
        con.close()


def make_corpus(root, n_files, seed):
    rng = random.Random(seed)
    words = ["llama", "alpaca", "vicuna", "camel", "desert", "mountain", "river", "forest", "engine",
             "index", "query", "vector", "matrix", "token", "bread", "cheese", "storm", "harbor"]
    for i in range(n_files):
        paras = []
        for _ in range(rng.randint(3, 12)):
            paras.append(" ".join(rng.choice(words) for _ in range(rng.randint(20, 120))) + ".")
        write(os.path.join(root, "part%02d" % (i % 7), "doc%03d.txt" % i), "\n\n".join(paras) + "\n")


def check_formats(lm, work):
    docs = os.path.join(work, "docs")
    shutil.rmtree(docs, ignore_errors=True)
    write(os.path.join(docs, "a.txt"), "Alpha line one.\nAlpha line two.\n\nThe harbor of Valparaiso.\n")
    write(os.path.join(docs, "sub", "b.md"), "# Title\n\nBeta text about llamas.\n")
    write(os.path.join(docs, "empty.txt"), "")
    write(os.path.join(docs, "image.bin"), b"\x00\x01\x02")
    db = os.path.join(work, "formats.db")
    for p in (db, db + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    r = run([lm, "index", "--db", db, "-m", "hash:64", docs, "--json", "--chunk-size", "30", "--chunk-overlap", "5"])
    out = json.loads(r.stdout)
    check(set(out) == {"files", "chunks_total"}, "index --json keys: %r" % sorted(out))
    by_path = {f["path"]: f for f in out["files"]}
    for f in out["files"]:
        check(set(f) == {"path", "sha256", "chunks", "status"}, "file entry keys: %r" % sorted(f))
        check(f["status"] == "added", "first run status %r" % f["status"])
        check(f["sha256"] == hashlib.sha256(read_bytes(f["path"])).hexdigest(), "sha256 of " + f["path"])
    check(sorted(by_path) == sorted(os.path.join(docs, n) for n in ["a.txt", "empty.txt", "sub/b.md"]),
          "files indexed: %r" % sorted(by_path))
    check(by_path[os.path.join(docs, "empty.txt")]["chunks"] == 0, "an empty file has no chunks")
    check(b"image.bin" in r.stderr and b"skipped" in r.stderr, "skipped files get a note: %r" % r.stderr)
    check(out["chunks_total"] == sum(f["chunks"] for f in out["files"]), "chunks_total")

    r = run([lm, "ask", "--db", db, "Where is the harbor?", "--retrieve-only", "--json", "-k", "3"])
    out = json.loads(r.stdout)
    check(set(out) == {"question", "mode", "search", "chunks"} and out["mode"] == "hybrid" and out["search"] == "exact",
          "ask --json: %r" % out)
    check(out["question"] == "Where is the harbor?", "question echoed")
    check(1 <= len(out["chunks"]) <= 3, "-k 3 gave %d chunks" % len(out["chunks"]))
    for i, c in enumerate(out["chunks"]):
        check(set(c) == {"rank", "source", "start_line", "end_line", "score", "text"}, "chunk keys %r" % sorted(c))
        check(c["rank"] == i + 1, "ranks are 1, 2, ...")
        lines = read_bytes(c["source"]).decode().split("\n")
        span = "\n".join(lines[c["start_line"] - 1:c["end_line"]])
        check(c["text"] in span, "chunk text is inside lines %d-%d of %s" % (c["start_line"], c["end_line"], c["source"]))
        check(lines[c["start_line"] - 1].find(c["text"].split("\n")[0]) >= 0, "first line of the chunk")
    check("harbor" in out["chunks"][0]["text"], "hybrid ranks the harbor chunk first: %r" % out["chunks"][0])
    for mode in ("bm25", "vector"):
        out = json.loads(run([lm, "ask", "--db", db, "harbor", "--retrieve-only", "--json", "--mode", mode]).stdout)
        check(out["mode"] == mode and "harbor" in out["chunks"][0]["text"], "%s finds the harbor: %r" % (mode, out))

    # Incremental: change one file, remove one, add one.
    write(os.path.join(docs, "a.txt"), "Alpha line one, changed.\n")
    os.remove(os.path.join(docs, "sub", "b.md"))
    write(os.path.join(docs, "c.md"), "Gamma.\n")
    out = json.loads(run([lm, "index", "--db", db, docs, "--json"]).stdout)
    got = {os.path.relpath(f["path"], docs): f["status"] for f in out["files"]}
    check(got == {"a.txt": "changed", "sub/b.md": "removed", "c.md": "added", "empty.txt": "unchanged"},
          "second run statuses: %r" % got)
    state = db_state(db)
    check(sorted(os.path.relpath(p, docs) for p in state) == ["a.txt", "c.md", "empty.txt"], "documents: %r" % state)
    for path, (sha, n_chunks, n_vectors) in state.items():
        check(n_vectors == n_chunks, "%s: %d chunks, %d vectors" % (path, n_chunks, n_vectors))

    # Another model or chunking: exit 1, the database untouched; --rebuild starts over.
    before = read_bytes(db)
    r = run([lm, "index", "--db", db, "-m", "hash:32", docs], expect_rc=1)
    check(b"hash:64" in r.stderr and b"--rebuild" in r.stderr, "another model: %r" % r.stderr)
    run([lm, "index", "--db", db, docs, "--chunk-size", "500", "--chunk-overlap", "5"], expect_rc=1)
    check(read_bytes(db) == before, "a refused run changed the database")
    out = json.loads(run([lm, "index", "--db", db, "--rebuild", docs, "--json"]).stdout)
    check(all(f["status"] == "added" for f in out["files"]), "--rebuild re-adds everything")
    r = run([lm, "ask", "--db", db, "alpha", "--retrieve-only", "--mode", "vector"], expect_rc=1)
    check(b"BM25-only" in r.stderr, "vector mode on a BM25-only index: %r" % r.stderr)
    out = json.loads(run([lm, "ask", "--db", db, "alpha", "--retrieve-only", "--json"]).stdout)
    check(out["mode"] == "bm25", "a BM25-only index defaults to bm25")


def vector_hits(lm, db, question):
    """ask --mode vector's chunks, without ranks' ids: (source, lines, text, score rounded)."""
    out = json.loads(run([lm, "ask", "--db", db, question, "--retrieve-only", "--json", "--mode", "vector",
                          "-k", "8"]).stdout)
    return [(c["source"], c["start_line"], c["end_line"], c["text"], round(c["score"], 5)) for c in out["chunks"]]


def vector_search(lm, db, question, env=None, extra=()):
    """ask --mode vector -k 10: (which search ran, [(source, start_line, score)])."""
    # -t 1: one thread builds the same graph every time, so the checks below cannot flicker.
    out = json.loads(run([lm, "ask", "--db", db, question, "--retrieve-only", "--json", "--mode", "vector",
                          "-k", "10", "-t", "1"] + list(extra), env=env).stdout)
    return out["search"], [(c["source"], c["start_line"], c["score"]) for c in out["chunks"]]


def check_approximate_overlaps_exact(lm, db, questions):
    """The approximate search's hits are exact search's: for each question, every hit it returns
    scores at least exact search's 10th best (ties among the hash embedder's similar chunks make
    chunk ids a poor test), and the cosine it reports for a chunk is exact search's."""
    good = total = 0
    for q in questions:
        kind, approximate = vector_search(lm, db, q, env=ANN_ENV)
        check(kind == "approximate", "LMFORGE_ANN_MIN_CHUNKS=1: search %r, not approximate" % kind)
        kind, exact = vector_search(lm, db, q, env=ANN_ENV, extra=["--exact"])
        check(kind == "exact", "--exact: search %r" % kind)
        exact_scores = {(s, l): sc for s, l, sc in exact}
        for s, l, sc in approximate:
            total += 1
            good += sc >= exact[-1][2] - 1e-5
            if (s, l) in exact_scores:
                check(abs(exact_scores[(s, l)] - sc) < 1e-4, "approximate score %r, exact %r" % (sc, exact_scores[(s, l)]))
    check(good >= 0.95 * total, "approximate search found %d of %d hits among exact search's top 10" % (good, total))


def check_approximate_index(lm, work, corpus, reference, questions):
    """DB.hnsw: built by `index` when the threshold says so, used by `ask` (--json says which
    search ran), its hits exact search's, rebuilt when stale (a change since) or damaged."""
    db = os.path.join(work, "ann.db")
    for p in (db, db + "-journal", db + ".vectors", db + ".hnsw"):
        if os.path.exists(p):
            os.remove(p)
    shutil.copyfile(reference, db)
    cmd = ["-m", "hash:384", "--chunk-size", "300", "--chunk-overlap", "50", "-q", "-t", "1"]
    run([lm, "index", "--db", db, corpus] + cmd)
    check(not os.path.exists(db + ".hnsw"), "an index under the default threshold got an approximate index")
    check(os.path.exists(db + ".vectors"), "index did not write the flat vector file at its end")
    run([lm, "index", "--db", db, corpus] + cmd, env=ANN_ENV)
    check(read_bytes(db + ".hnsw")[:8] == b"LMFHNSW\0", "index with LMFORGE_ANN_MIN_CHUNKS=1 wrote no DB.hnsw")
    kind, _ = vector_search(lm, db, questions[0])
    check(kind == "exact", "the default threshold (100000) on a small index: search %r" % kind)
    check_approximate_overlaps_exact(lm, db, questions)
    # Stale: a change made by an index run under the default threshold leaves the old graph.
    before = read_bytes(db + ".hnsw")
    victim = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(corpus) for f in fs)[1]
    original = read_bytes(victim)
    write(victim, (questions[0] + " ") * 40 + "\n")
    try:
        run([lm, "index", "--db", db, corpus] + cmd)
        check(read_bytes(db + ".hnsw") == before, "an index run under the threshold touched DB.hnsw")
        kind, hits = vector_search(lm, db, questions[0], env=ANN_ENV)
        check(kind == "approximate" and hits[0][0] == victim, "a stale DB.hnsw was used: %r" % hits[:1])
        check(read_bytes(db + ".hnsw") != before, "the stale DB.hnsw was not rebuilt")
        # Damaged: a byte flipped in the header, and in the graph; truncated.
        good = read_bytes(db + ".hnsw")
        expected = vector_search(lm, db, questions[1], env=ANN_ENV)
        for at in (20, 50, len(good) // 2, len(good) - 5):
            write(db + ".hnsw", good[:at] + bytes([good[at] ^ 0x20]) + good[at + 1:])
            check(vector_search(lm, db, questions[1], env=ANN_ENV)[0] == "approximate", "damaged at %d" % at)
            check(read_bytes(db + ".hnsw")[:8] == b"LMFHNSW\0" and len(read_bytes(db + ".hnsw")) == len(good),
                  "a DB.hnsw damaged at byte %d was not rebuilt" % at)
        write(db + ".hnsw", good[: len(good) // 3])
        check(vector_search(lm, db, questions[1], env=ANN_ENV)[1][:1] == expected[1][:1], "truncated DB.hnsw")
        check(len(read_bytes(db + ".hnsw")) == len(good), "a truncated DB.hnsw was not rebuilt")
    finally:
        write(victim, original)
    return len(good)


def check_flat_file(lm, work, corpus, reference, question):
    """The flat vector file beside the database (DB.vectors) is a cache: a stale one (made before
    a change) or one copied from another index is rebuilt, never used."""
    flat = reference + ".vectors"
    if os.path.exists(flat):
        os.remove(flat)
    expected = vector_hits(lm, reference, question)
    check(os.path.exists(flat), "ask --mode vector did not write %s" % flat)
    check(vector_hits(lm, reference, question) == expected, "a second search differs")
    db = os.path.join(work, "flat.db")
    for p in (db, db + "-journal", db + ".vectors"):
        if os.path.exists(p):
            os.remove(p)
    cmd = ["-m", "hash:384", "--chunk-size", "300", "--chunk-overlap", "50", "-q"]
    run([lm, "index", "--db", db, corpus] + cmd)
    # Another index's file, same dimension: foreign, rebuilt.
    shutil.copyfile(flat, db + ".vectors")
    check(vector_hits(lm, db, question) == expected, "with another index's flat file")
    # A file made before a change: stale, rebuilt.
    stale = read_bytes(db + ".vectors")
    victim = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(corpus) for f in fs)[0]
    original = read_bytes(victim)
    write(victim, (question + " ") * 40 + "\n")
    run([lm, "index", "--db", db, corpus] + cmd)
    changed = vector_hits(lm, db, question)
    check(changed != expected and changed[0][0] == victim, "the changed file should rank first: %r" % changed[:1])
    write(db + ".vectors", stale)
    check(vector_hits(lm, db, question) == changed, "a stale flat file was used")
    write(victim, original)
    run([lm, "index", "--db", db, corpus] + cmd)
    check(vector_hits(lm, db, question) == expected, "after restoring the file")

    # f16 vectors: two bytes per coordinate in the database (read with Python's sqlite3), the
    # same ranking as f32 up to f16 rounding, and no mixing of vector types without --rebuild.
    half = os.path.join(work, "half.db")
    for p in (half, half + "-journal", half + ".vectors"):
        if os.path.exists(p):
            os.remove(p)
    run([lm, "index", "--db", half, corpus, "--vector-type", "f16"] + cmd)
    con = sqlite3.connect(half)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta"))
        lengths = con.execute("SELECT min(length(embedding)), max(length(embedding)) FROM vectors").fetchone()
    finally:
        con.close()
    check(meta.get("vector_type") == "f16" and lengths == (2 * 384, 2 * 384), "f16 index: %r %r" % (
        meta.get("vector_type"), lengths))
    got = vector_hits(lm, half, question)
    check([h[:4] for h in got[:3]] == [h[:4] for h in expected[:3]], "f16 top 3 differ from f32's")
    check(all(abs(g[4] - e[4]) < 2e-3 for g, e in zip(got, expected)), "f16 scores far from f32's: %r %r" % (
        got, expected))
    before = read_bytes(half)
    r = run([lm, "index", "--db", half, corpus, "--vector-type", "f32"] + cmd, expect_rc=1)
    check(b"f16" in r.stderr and b"--rebuild" in r.stderr, "mixing vector types: %r" % r.stderr)
    check(read_bytes(half) == before, "a refused run changed the f16 index")


def check_kill9(lm, work):
    corpus = os.path.join(work, "kill-corpus")
    shutil.rmtree(corpus, ignore_errors=True)
    make_corpus(corpus, 120, seed=7)
    reference = os.path.join(work, "kill-reference.db")
    if os.path.exists(reference):
        os.remove(reference)
    cmd = ["index", "-m", "hash:384", "--chunk-size", "300", "--chunk-overlap", "50", corpus, "-q"]
    t0 = time.monotonic()
    run([lm] + cmd[:1] + ["--db", reference] + cmd[1:])
    full = time.monotonic() - t0
    expected = db_state(reference)
    check(len(expected) == 120, "reference run indexed %d files" % len(expected))
    question = "harbor storm river"
    check_flat_file(lm, work, corpus, reference, question)
    ann_questions = [question, "llama alpaca camel", "vector matrix token index", "bread cheese", "desert mountain"]
    check_approximate_index(lm, work, corpus, reference, ann_questions)
    expected_hits = vector_hits(lm, reference, question)

    db = os.path.join(work, "kill.db")
    kills = 0
    fractions = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 0.97]
    for round_no, fraction in enumerate(fractions):
        for p in (db, db + "-journal"):
            if os.path.exists(p):
                os.remove(p)
        if round_no % 2 == 1:
            # Odd rounds interrupt an incremental run instead: half the files exist already.
            run([lm, "index", "--db", db] + cmd[1:-2] + [os.path.join(corpus, "part0%d" % k) for k in range(4)] + ["-q"])
        proc = subprocess.Popen([lm, "index", "--db", db] + cmd[1:], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if os.path.exists(db) and os.path.getsize(db) > 0:
            state = db_state(db)
            for path, got in state.items():
                check(path in expected, "unexpected document %s" % path)
                check(got == expected[path], "after kill -9 at %.0f%%: %s holds %r, a whole file is %r" % (
                    100 * fraction, path, got, expected[path]))
        run([lm, "index", "--db", db] + cmd[1:])
        check(db_state(db) == expected, "the run after kill -9 at %.0f%% did not finish the job" % (100 * fraction))
        # The flat vector file and approximate index of the previous round's database (left in
        # place) are foreign to this one; an `ask` killed while it rebuilds them (odd rounds: the
        # approximate index too) leaves nothing that the next one trusts.
        ann_round = round_no % 2 == 1
        ask = subprocess.Popen([lm, "ask", "--db", db, question, "--retrieve-only", "--mode", "vector", "-t", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=ANN_ENV if ann_round else None)
        time.sleep((0.05 if ann_round else 0.002) * round_no)
        if ask.poll() is None:
            ask.send_signal(signal.SIGKILL)
        ask.wait()
        check(vector_hits(lm, db, question) == expected_hits,
              "vector search after kill -9 at %.0f%% differs from the reference's" % (100 * fraction))
        if ann_round and round_no in (1, 5):
            check_approximate_overlaps_exact(lm, db, [question])
        leftovers = [f for f in os.listdir(work) if "lmforge-tmp" in f]
        check(not leftovers, "temporaries left behind: %r" % leftovers)
    check(kills >= len(fractions) // 2, "only %d of %d runs were killed mid-way (the corpus indexes too fast)" % (
        kills, len(fractions)))
    return kills, full


def check_bad_input(lm, work):
    docs = os.path.join(work, "bad-docs")
    shutil.rmtree(docs, ignore_errors=True)
    write(os.path.join(docs, "ok.txt"), "ordinary text\n")

    # A database that is not ours: refused, byte for byte untouched, no journal left beside it.
    theirs = os.path.join(work, "theirs.db")
    if os.path.exists(theirs):
        os.remove(theirs)
    con = sqlite3.connect(theirs)
    con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance REAL)")
    con.execute("INSERT INTO accounts VALUES (1, 100.0)")
    con.commit()
    con.close()
    before = read_bytes(theirs)
    for cmd in (["index", "--db", theirs, docs], ["index", "--db", theirs, "--rebuild", docs],
                ["ask", "--db", theirs, "x", "--retrieve-only"]):
        r = run([lm] + cmd, expect_rc=1)
        check(b"not an lmforge index" in r.stderr, "%s: %r" % (cmd[0], r.stderr))
    check(read_bytes(theirs) == before and not os.path.exists(theirs + "-journal"), "someone else's database was touched")
    wal = os.path.join(work, "theirs-wal.db")
    for p in (wal, wal + "-wal", wal + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    con = sqlite3.connect(wal)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE notes(body TEXT)")
    con.commit()
    con.close()
    before = read_bytes(wal)
    run([lm, "index", "--db", wal, "--rebuild", docs], expect_rc=1)
    run([lm, "ask", "--db", wal, "x", "--retrieve-only"], expect_rc=1)
    check(read_bytes(wal) == before and not os.path.exists(wal + "-shm"), "a WAL-mode database was touched")

    # Not a database at all, and a corrupt index.
    text_db = os.path.join(work, "notes.db")
    write(text_db, "my notes, not a database\n" * 100)
    before = read_bytes(text_db)
    run([lm, "index", "--db", text_db, docs], expect_rc=1)
    run([lm, "ask", "--db", text_db, "x", "--retrieve-only"], expect_rc=1)
    check(read_bytes(text_db) == before, "a text file given as --db was changed")
    corrupt = os.path.join(work, "corrupt.db")
    if os.path.exists(corrupt):
        os.remove(corrupt)
    make_corpus(os.path.join(work, "corrupt-docs"), 30, seed=3)
    run([lm, "index", "--db", corrupt, os.path.join(work, "corrupt-docs"), "-q"])
    data = bytearray(read_bytes(corrupt))
    for i in range(4096 + 50, len(data), 61):
        data[i] ^= 0x5A
    write(corrupt, bytes(data))
    r = run([lm, "index", "--db", corrupt, docs], expect_rc=1)
    check(b"corrupt" in r.stderr, "corrupt index: %r" % r.stderr)
    check(read_bytes(corrupt) == bytes(data), "a corrupt index was written to")
    r = run([lm, "ask", "--db", corrupt, "llama", "--retrieve-only"], expect_rc=None)
    check(r.returncode in (0, 1) and len(r.stderr.splitlines()) <= 1, "ask on a corrupt index: %r" % r.stderr)

    # Binary and ill-formed files: exit 1 naming the file and byte, nothing written.
    db = os.path.join(work, "bad.db")
    for p in (db, db + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    run([lm, "index", "--db", db, docs, "-q"])
    before = read_bytes(db)
    write(os.path.join(docs, "zz.txt"), b"GIF89a\x00\x00\x10binary")
    r = run([lm, "index", "--db", db, docs], expect_rc=1)
    check(b"zz.txt" in r.stderr and b"byte 6" in r.stderr, "binary file: %r" % r.stderr)
    write(os.path.join(docs, "zz.txt"), b"caf\xe9 latin-1")
    r = run([lm, "index", "--db", db, docs], expect_rc=1)
    check(b"zz.txt" in r.stderr and b"byte 3" in r.stderr and b"UTF-8" in r.stderr, "latin-1 file: %r" % r.stderr)
    check(read_bytes(db) == before, "a refused run changed the index")
    os.remove(os.path.join(docs, "zz.txt"))

    # Huge lines: one 2 MB line without any separator, one of 300k words.
    write(os.path.join(docs, "huge1.txt"), "x" * 2_000_000)
    write(os.path.join(docs, "huge2.txt"), "word " * 300_000)
    out = json.loads(run([lm, "index", "--db", db, docs, "--json", "-q"]).stdout)
    chunks = {os.path.basename(f["path"]): f["chunks"] for f in out["files"]}
    check(chunks["huge1.txt"] == 2000 + 500, "2 MB without separators in chunks of 1000 overlapping 200: %r" % chunks)
    check(chunks["huge2.txt"] > 1000, "300k words: %r" % chunks)

    # Any question is a valid query.
    for q in ['"', 'a "b" c', "NEAR(x y)", "title:foo", "*", "^x", "AND OR NOT", "(((", "x'; DROP TABLE chunks;--",
              "", "  ", "\u2014", "emoji \U0001F600"]:
        out = json.loads(run([lm, "ask", "--db", db, q, "--retrieve-only", "--json"]).stdout)
        check(out["mode"] == "bm25" and isinstance(out["chunks"], list), "question %r: %r" % (q, out))
    check(db_state(db), "the index survived the questions")

    # A question longer than the context of the chat model.
    r = run([lm, "ask", "--db", db, "word " * 400, "-m", DEMO_MODEL, "-c", "64", "-n", "4"], expect_rc=2)
    check(b"context" in r.stderr, "a question longer than the context: %r" % r.stderr)
    r = run([lm, "ask", "--db", db, "ordinary text", "-m", DEMO_MODEL, "--temp", "0", "-n", "8", "-c", "256"])
    check(b"Sources:" in r.stdout and b"ok.txt:1" in r.stdout, "an answer ends with its sources: %r" % r.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--fixtures", default=None, help="unused (the checks make their own text)")
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    try:
        check_formats(args.lmforge, args.workdir)
        kills, full = check_kill9(args.lmforge, args.workdir)
        print("index: kill -9 in %d runs (a full run took %.2f s); every file whole, every rerun finished" % (kills, full))
        print("index: the approximate index (DB.hnsw) found exact search's hits, was rebuilt when stale, "
              "damaged or foreign, and survived kill -9 during its build")
        check_bad_input(args.lmforge, args.workdir)
    except CheckFailed as e:
        print("index: FAILED: %s" % e, flush=True)
        sys.exit(1)
    print("index: all checks passed", flush=True)


if __name__ == "__main__":
    main()
