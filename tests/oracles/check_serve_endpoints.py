#!/usr/bin/python3
"""`lmforge serve`'s own endpoints and its shutdown, on the demo model:

1. /v1/ask over an index made by `lmforge index` (hashing embedder, so no second model):
   plain and streamed (first chunk carries "sources"; the deltas concatenate to the plain
   answer at temperature 0), bm25 and vector modes, the sources naming the indexed file.
2. /tokenize and /detokenize against `lmforge tokenize --json` (ids and pieces, with and
   without BOS) and a round trip.
3. /metrics (Prometheus text: the unlabelled gauges, request counters, histograms) and /slots.
4. SIGINT while a stream is in flight: the stream ends, the process exits 0, within bounds.
5. Start-up failures: a model that does not exist exits 1 (after it already listened), a bad
   flag exits 2, each within bounds.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, workdir_for  # noqa: E402
from serve_harness import DEMO, Server  # noqa: E402

TEXT = """The lighthouse keeper of Bramble Point was named Ottoline Variss.
She kept the lamp burning for forty years and wrote every ship's name in a green ledger.

The harbour master, a man called Dunstan Reel, counted the fishing boats each evening.
He never once went out to sea himself.
"""


def sse_events(server, path, body, timeout=60):
    """The JSON payloads of a streamed response, up to [DONE]."""
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    data = json.dumps(body).encode()
    conn.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                 str(len(data)).encode() + b"\r\nConnection: close\r\n\r\n" + data)
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    conn.close()
    head, _, body_bytes = buf.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "stream status: %r" % head[:100])
    check(b"text/event-stream" in head, "stream content type: %r" % head)
    # Undo the chunked framing.
    text = b""
    rest = body_bytes
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        n = int(size_line, 16)
        if n == 0:
            break
        text += rest[:n]
        rest = rest[n + 2:]
    events = []
    for block in text.decode().split("\n\n"):
        if not block.strip():
            continue
        check(block.startswith("data: "), "SSE block %r" % block[:100])
        payload = block[len("data: "):]
        if payload == "[DONE]":
            events.append("[DONE]")
        else:
            events.append(json.loads(payload))
    check(events and events[-1] == "[DONE]", "the stream ends with [DONE]")
    return events[:-1]


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("metric %s missing from /metrics" % name)


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "serve_endpoints")
    doc = os.path.join(work, "harbour.txt")
    with open(doc, "w") as f:
        f.write(TEXT)
    db = os.path.join(work, "index.db")
    if os.path.exists(db):
        os.remove(db)
    r = subprocess.run([args.lmforge, "index", "--db", db, "-m", "hash:64", "-q", "--chunk-size", "120", "--chunk-overlap", "0", doc],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "lmforge index: %s" % r.stderr)

    server = Server(args.lmforge, ["--db", db, "--parallel", "3", "-t", "1", "--alias", "demo"],
                    log_path=os.path.join(work, "server.log"))
    try:
        # 1. /v1/ask
        q = {"question": "Who kept the lamp at Bramble Point?", "temperature": 0, "max_tokens": 16, "k": 2}
        status, plain = server.json("POST", "/v1/ask", q)
        check(status == 200, "ask: %s %s" % (status, plain))
        check(plain["object"] == "chat.completion" and isinstance(plain["choices"][0]["message"]["content"], str), "ask shape")
        sources = plain["sources"]
        check(1 <= len(sources) <= 2 and all(s["source"].endswith("harbour.txt") for s in sources), "ask sources %s" % sources)
        check("Ottoline" in sources[0]["text"], "bm25/hybrid ranks the lighthouse chunk first: %s" % sources[0]["text"])
        events = sse_events(server, "/v1/ask", dict(q, stream=True))
        check(events[0].get("sources") == sources, "the first ask chunk carries the sources")
        streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
        check(streamed == plain["choices"][0]["message"]["content"], "ask stream %r != plain %r" %
              (streamed, plain["choices"][0]["message"]["content"]))
        for mode in ["bm25", "vector"]:
            status, body = server.json("POST", "/v1/ask", dict(q, mode=mode))
            check(status == 200 and body["sources"], "ask mode %s: %s" % (mode, status))
        print("ask: answer %r from %d sources" % (plain["choices"][0]["message"]["content"], len(sources)), flush=True)

        # 2. /tokenize, /detokenize against `lmforge tokenize`
        for text in ["Hello world", "The lighthouse keeper, 1961.", "naïve café — ünïcödé ✓"]:
            for add_special in [True, False]:
                cli = subprocess.run([args.lmforge, "tokenize", "-m", DEMO, "-p", text, "--json"] + ([] if add_special else ["--no-bos"]),
                                     capture_output=True, text=True, timeout=60)
                check(cli.returncode == 0, "lmforge tokenize: %s" % cli.stderr)
                want = json.loads(cli.stdout)
                status, body = server.json("POST", "/tokenize", {"content": text, "add_special": add_special})
                check(status == 200 and body["tokens"] == want["ids"], "tokenize %r: %s vs %s" % (text, body, want["ids"]))
                status, body = server.json("POST", "/tokenize", {"content": text, "add_special": add_special, "with_pieces": True})
                check([t["id"] for t in body["tokens"]] == want["ids"], "tokenize with pieces ids")
            status, body = server.json("POST", "/detokenize", {"tokens": want["ids"]})
            check(status == 200 and body["content"] == text, "detokenize round trip %r: %r" % (text, body))
        print("tokenize/detokenize agree with lmforge tokenize", flush=True)

        # 3. /metrics and /slots
        status, text, headers = server.request("GET", "/metrics")
        check(status == 200 and headers["content-type"].startswith("text/plain"), "/metrics: %s" % status)
        text = text.decode()
        check(metric(text, "lmforge_slots_idle") == 3, "lmforge_slots_idle")
        check(metric(text, "lmforge_requests_processing") == 0, "lmforge_requests_processing")
        check(metric(text, "lmforge_requests_queued") == 0, "lmforge_requests_queued")
        check(metric(text, "lmforge_tokens_generated_total") > 0, "tokens generated counter")
        check(metric(text, "lmforge_time_to_first_token_seconds_count") >= 4, "TTFT histogram count")
        check('lmforge_http_requests_total{status="200"}' in text, "requests by status")
        status, slots = server.json("GET", "/slots")
        check(status == 200 and len(slots) == 3 and all(s["state"] == "idle" for s in slots), "/slots %s" % slots)
        print("metrics and slots ok", flush=True)

        # 4. SIGINT with a stream in flight: it ends, the process exits 0.
        ended = {}

        def reader():
            try:
                s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                body = json.dumps({"model": "demo", "prompt": "Once", "max_tokens": 200, "stream": True, "seed": 1}).encode()
                s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                while s.recv(65536):
                    pass
                ended["ok"] = True
            except OSError as e:
                ended["error"] = str(e)

        th = threading.Thread(target=reader)
        th.start()
        time.sleep(0.05)
        server.proc.send_signal(signal.SIGINT)
        th.join(30)
        check(not th.is_alive(), "the stream did not end after SIGINT")
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("lmforge serve did not exit within 30 s of SIGINT")
        check(server.proc.returncode == 0, "exit status after SIGINT: %s" % server.proc.returncode)
        print("SIGINT with a stream in flight: exit 0", flush=True)
    finally:
        server.stop()

    # 5. Start-up failures end the process (the listener started before loading must not hold it).
    for argv, want in [(["-m", os.path.join(work, "no-such-model.gguf"), "--port", "0"], 1),
                       (["-m", DEMO, "--parallel", "0"], 2), (["-m", DEMO, "--timeout", "-1"], 2)]:
        try:
            r = subprocess.run([args.lmforge, "serve"] + argv, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("lmforge serve %s did not exit within 60 s" % " ".join(argv))
        check(r.returncode == want and "lmforge: error:" in r.stderr,
              "lmforge serve %s: exit %s (want %s): %s" % (" ".join(argv), r.returncode, want, r.stderr[-300:]))
    print("start-up failures exit 1 / 2", flush=True)


if __name__ == "__main__":
    main_wrapper("serve_endpoints", main)
