#!/usr/bin/python3
"""`lmforge serve` under a bounded load on loopback: 64 concurrent clients, each sending a
mix of streamed chats, plain chats, text completions, embeddings, streams cancelled part-way
(the client drops the connection) and malformed requests, for three rounds.

Passes when: no answer is a 5xx except 503 carrying Retry-After (a full queue); every
well-formed request gets 200 (or that 503), every malformed one a 400; the server never dies;
afterwards every slot is idle and nothing is queued (/slots, /metrics); and the resident
memory after the last round is back near its level after the first (no growth per request).
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, workdir_for  # noqa: E402
from serve_harness import Server, raw_request  # noqa: E402

CLIENTS = 64
REQUESTS_PER_CLIENT = 3
ROUNDS = 3


def http(port, method, path, body=None, timeout=120, drop_after=None):
    """(status, headers dict, body bytes); with drop_after, resets after that many response bytes."""
    stop = (lambda buf: len(buf) >= drop_after) if drop_after is not None else None
    status, headers, _, rest = raw_request(port, method, path, body, timeout, stop, reset=True)
    return status, headers, rest


KINDS = ["stream_chat", "chat", "completion", "embeddings", "cancelled", "malformed"]


def one_request(port, kind, rng):
    chat = {"model": "demo", "max_tokens": rng.randint(4, 40), "temperature": 0.7, "seed": rng.randint(0, 1000),
            "messages": [{"role": "user", "content": rng.choice(["Hello", "Tell me a story.", "What is the river like?"])}]}
    if kind == "stream_chat":
        st, h, body = http(port, "POST", "/v1/chat/completions", dict(chat, stream=True))
        if st == 200:
            check(b"data: [DONE]" in body, "a stream without [DONE]")
        return st, h, True
    if kind == "chat":
        return http(port, "POST", "/v1/chat/completions", chat)[:2] + (True,)
    if kind == "completion":
        return http(port, "POST", "/v1/completions", {"model": "demo", "prompt": "The river", "max_tokens": 20})[:2] + (True,)
    if kind == "embeddings":
        return http(port, "POST", "/v1/embeddings", {"model": "demo", "input": ["a", "b c d"]})[:2] + (True,)
    if kind == "cancelled":
        st, h, _ = http(port, "POST", "/v1/chat/completions", dict(chat, stream=True, max_tokens=80), drop_after=600)
        return st, h, True
    bad = rng.choice([b"{", b'{"model": "demo", "messages": 5}', b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
                      b'\xff\xfe', b'{"model": "demo", "input": [[-1]]}'])
    return http(port, "POST", rng.choice(["/v1/chat/completions", "/v1/embeddings"]), bad)[:2] + (False,)


def run_round(port, seed):
    results = []
    lock = threading.Lock()

    def client(i):
        rng = random.Random(seed * 1000 + i)
        for _ in range(REQUESTS_PER_CLIENT):
            kind = KINDS[(i + rng.randint(0, 5)) % len(KINDS)]
            try:
                st, h, well_formed = one_request(port, kind, rng)
            except Exception as e:  # noqa: BLE001 - any client-side failure is recorded as one
                st, h, well_formed = ("client error: %s" % e), {}, kind != "malformed"
            with lock:
                results.append((kind, st, h, well_formed))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    check(not any(t.is_alive() for t in threads), "clients still running after 300 s")
    return results


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "serve_load")
    server = Server(args.lmforge, ["--parallel", "4", "--queue", "16", "-t", "2", "--alias", "demo", "--quiet"],
                    log_path=os.path.join(work, "server.log"))
    try:
        rss = []
        counts = {}
        for r in range(ROUNDS):
            results = run_round(server.port, r)
            check(server.proc.poll() is None, "the server died during round %d: %s" % (r, server.log_tail()))
            for kind, st, h, well_formed in results:
                counts[(kind, st)] = counts.get((kind, st), 0) + 1
                if kind == "cancelled" and st is None:
                    continue  # dropped before the status line arrived
                check(isinstance(st, int), "%s: %s" % (kind, st))
                if st == 503:
                    check("retry-after" in h, "503 without Retry-After")
                    continue
                check(st < 500, "%s answered %s" % (kind, st))
                check(st == (200 if well_formed else 400), "%s answered %s" % (kind, st))
            # Every slot idle and nothing queued, soon after the last client is done.
            deadline = time.time() + 20
            while True:
                status, slots = server.json("GET", "/slots")
                if all(s["state"] == "idle" for s in slots):
                    break
                check(time.time() < deadline, "slots still busy 20 s after the round: %s" % slots)
                time.sleep(0.1)
            st, text, _ = server.request("GET", "/metrics")
            metrics = dict(line.split()[:2] for line in text.decode().splitlines() if line and not line.startswith("#"))
            check(metrics["lmforge_requests_queued"] == "0" and metrics["lmforge_slots_idle"] == "4", "metrics after the round")
            rss.append(server.rss_kib())
            print("round %d: %d requests, RSS %d KiB" % (r, len(results), rss[-1]), flush=True)
        print("answers by kind and status: %s" % sorted(counts.items(), key=str), flush=True)
        check(rss[-1] <= rss[0] * 1.25 + 16 * 1024, "RSS grew from %d KiB to %d KiB" % (rss[0], rss[-1]))
        check(sum(n for (k, st), n in counts.items() if st == 200) >= CLIENTS, "too few requests succeeded: %s" % counts)
    finally:
        rc = server.stop()
    check(rc == 0, "lmforge serve exited with %s after SIGTERM" % rc)


if __name__ == "__main__":
    main_wrapper("serve_load", main)
