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
6. While the model loads (held back by LMFORGE_SERVE_TEST_LOAD_DELAY_MS, as the demo model
   loads in milliseconds): GET /health is 503 with llama-server's body for that state
   ({"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}}), the
   model routes 503 with Retry-After; then /health is 200 {"status": "ok"}.
7. Without --embed-model the served model embeds from the weights already loaded: resident
   memory is at least half the model's weights below a server given the same model again as
   --embed-model (which loads it a second time), and the vectors are the same. And
   `ignore_eos` (llama-server's field) is taken (a boolean; anything else is 400).
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

    check_loading_phase(args, work)
    check_one_load(args, work)


def check_loading_phase(args, work):
    server = Server(args.lmforge, ["--parallel", "1", "-t", "1", "-c", "256"], log_path=os.path.join(work, "loading.log"),
                    env={"LMFORGE_SERVE_TEST_LOAD_DELAY_MS": "3000"}, wait_ready=False)
    try:
        status, body, headers = server.request("GET", "/health", timeout=10)
        check(status == 503, "/health while loading: %s %r" % (status, body))
        check(json.loads(body) == {"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}},
              "/health body while loading: %r" % body)
        check(headers.get("retry-after") == "1", "/health while loading has Retry-After: %s" % headers)
        status, body, headers = server.request("GET", "/v1/models", timeout=10)
        check(status == 503 and json.loads(body)["error"]["code"] == "model_loading" and "retry-after" in headers,
              "/v1/models while loading: %s %r" % (status, body))
        server.wait_ready(120)
        status, body = server.json("GET", "/health")
        check(status == 200 and body == {"status": "ok"}, "/health after loading: %s %s" % (status, body))
    finally:
        check(server.stop() == 0, "exit status after SIGTERM")
    print("/health: 503 (llama-server's body) while loading, 200 after", flush=True)


def embed_and_measure(server, texts):
    status, body = server.json("POST", "/v1/embeddings", {"model": "demo", "input": texts})
    check(status == 200 and len(body["data"]) == len(texts), "embeddings: %s %s" % (status, str(body)[:200]))
    status, _ = server.json("POST", "/v1/completions", {"model": "demo", "prompt": "Once upon", "max_tokens": 8, "temperature": 0})
    check(status == 200, "completion: %s" % status)
    return [d["embedding"] for d in body["data"]], server.rss_kib()


def check_one_load(args, work):
    weights_kib = sum(os.path.getsize(os.path.join(DEMO, f)) for f in os.listdir(DEMO) if f.endswith(".safetensors")) // 1024
    texts = ["The lighthouse keeper wrote every ship's name.", "Dunstan Reel counted boats."]
    common = ["--parallel", "1", "-t", "1", "-c", "256", "--alias", "demo"]
    shared = Server(args.lmforge, common, log_path=os.path.join(work, "one_load.log"))
    try:
        vectors_shared, rss_shared = embed_and_measure(shared, texts)
        # ignore_eos (llama-server's field) is accepted and runs to max_tokens (the demo model never
        # draws EOS greedily, so that it reaches the scheduler is tested in request_parser_test).
        status, body = shared.json("POST", "/v1/completions", {"model": "demo", "prompt": "Once", "max_tokens": 40,
                                                                 "temperature": 0, "ignore_eos": True})
        check(status == 200 and body["usage"]["completion_tokens"] == 40 and body["choices"][0]["finish_reason"] == "length",
              "ignore_eos: %s %s" % (status, body.get("usage")))
        status, body = shared.json("POST", "/v1/completions", {"model": "demo", "prompt": "Once", "max_tokens": 40,
                                                                 "temperature": 0, "ignore_eos": "yes"})
        check(status == 400 and body["error"]["param"] == "ignore_eos", "ignore_eos must be a boolean: %s %s" % (status, body))
    finally:
        check(shared.stop() == 0, "exit status after SIGTERM")
    twice = Server(args.lmforge, common + ["--embed-model", DEMO], log_path=os.path.join(work, "two_loads.log"))
    try:
        vectors_twice, rss_twice = embed_and_measure(twice, texts)
    finally:
        check(twice.stop() == 0, "exit status after SIGTERM")
    for a, b in zip(vectors_shared, vectors_twice):
        check(max(abs(x - y) for x, y in zip(a, b)) < 1e-5, "the shared model embeds as a second copy does")
    print("RSS: %d KiB with the served model embedding, %d KiB with it loaded again as --embed-model (weights %d KiB)"
          % (rss_shared, rss_twice, weights_kib), flush=True)
    check(rss_twice - rss_shared >= weights_kib // 2,
          "the served model seems loaded twice without --embed-model: RSS %d KiB, against %d KiB with a second load"
          % (rss_shared, rss_twice))


if __name__ == "__main__":
    main_wrapper("serve_endpoints", main)
