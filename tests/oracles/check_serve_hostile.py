#!/usr/bin/python3
"""`lmforge serve` under hostile requests: every answer is a 4xx (or 503 with Retry-After where
the server is full), never a 5xx or a crash, and /health still answers ok after each.

Raw sockets (Python standard library) send what no SDK would: malformed JSON, wrong types,
huge and negative numbers, bodies over --max-body (with Content-Length and chunked), invalid
UTF-8, deep nesting, a header trickled byte by byte for longer than --timeout (answered 408
and closed, while other clients are served meanwhile), clients that disconnect mid-stream
(their slot is idle again at once: /slots), connections beyond --max-connections (503 with
Retry-After), unknown routes and methods, missing and wrong API keys.
"""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, workdir_for  # noqa: E402
from serve_harness import Server  # noqa: E402

KEY = "sk-hostile"
AUTH = {"Authorization": "Bearer " + KEY}
CHAT = "/v1/chat/completions"


def raw(port, data, timeout=10.0, read=True):
    """Sends bytes on a fresh connection; returns (status or None, the response bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return None, b""
        buf = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
            if complete_response(buf):
                break
        return status_of(buf), buf
    finally:
        s.close()


def complete_response(buf):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip())
    return False


def status_of(buf):
    if not buf.startswith(b"HTTP/1.1 "):
        return None
    return int(buf[9:12])


def body_of(buf):
    return buf.partition(b"\r\n\r\n")[2]


def post(path, body_bytes, extra_headers=b"", key=True):
    h = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    if key:
        h += b"Authorization: Bearer " + KEY.encode() + b"\r\n"
    return h + extra_headers + b"Content-Length: " + str(len(body_bytes)).encode() + b"\r\nConnection: close\r\n\r\n" + body_bytes


class Suite:
    def __init__(self, server):
        self.server = server
        self.count = 0

    def healthy(self, after):
        status, body, _ = self.server.request("GET", "/health", timeout=10)
        check(status == 200 and json.loads(body)["status"] == "ok", "/health after %s: %s %r" % (after, status, body))
        check(self.server.proc.poll() is None, "the server died after %s" % after)

    def expect(self, name, data, statuses=range(400, 500), error_object=True):
        status, buf = raw(self.server.port, data)
        check(status in statuses, "%s: status %s (expected %s): %r" % (name, status, statuses, buf[:300]))
        if error_object and status is not None:
            try:
                err = json.loads(body_of(buf))["error"]
            except (ValueError, KeyError, TypeError):
                raise AssertionError("%s: no OpenAI error object: %r" % (name, buf[:300]))
            check(set(err) >= {"message", "type", "param", "code"}, "%s: error fields %s" % (name, sorted(err)))
        self.count += 1
        self.healthy(name)
        return status, buf


def wait_slots_idle(server, seconds=10):
    deadline = time.time() + seconds
    slots = None
    while time.time() < deadline:
        status, slots = server.json("GET", "/slots", headers=AUTH)
        check(status == 200, "/slots: %s" % status)
        if all(s["state"] == "idle" for s in slots):
            return True
        time.sleep(0.05)
    raise AssertionError("slots still busy after %ds: %s" % (seconds, slots))


def wait_log(server, since, *parts, seconds=10):
    """Whether a log line after index `since` holds all `parts` (waiting for it, bounded)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if any(all(p in line for p in parts) for line in server.log_lines[since:]):
            return True
        time.sleep(0.05)
    return False


def stream_then_disconnect(server, path, body, events=3):
    """Starts a streamed request, reads a few events, and drops the connection."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    payload = json.dumps(body).encode()
    s.sendall(post(path, payload))
    buf = b""
    deadline = time.time() + 60
    while buf.count(b"data: ") < events and time.time() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    check(status_of(buf) == 200, "stream start: %r" % buf[:300])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset on close
    s.close()


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "serve_hostile")
    server = Server(args.lmforge, ["--api-key", KEY, "--parallel", "2", "-t", "1", "--timeout", "2", "--max-body", "65536",
                                   "--alias", "demo", "-c", "128"], log_path=os.path.join(work, "server.log"))
    t = Suite(server)
    ok_msgs = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    try:
        port = server.port
        # Malformed JSON, wrong types, missing fields, out-of-range and huge numbers.
        for name, body in [
            ("truncated JSON", b'{"model": "demo", "messages": ['),
            ("trailing comma", b'{"model": "demo",}'),
            ("not an object", b'[1, 2, 3]'),
            ("empty body", b''),
            ("NaN", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}'),
            ("messages a string", b'{"model": "demo", "messages": "hello"}'),
            ("content a number", b'{"model": "demo", "messages": [{"role": "user", "content": 5}]}'),
            ("max_tokens a string", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"}'),
            ("negative max_tokens", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": -5}'),
            ("huge max_tokens", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e400}'),
            ("giant integer", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 123456789012345678901234567890}'),
            ("max_tokens beyond the context", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1000000}'),
            ("negative temperature", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "temperature": -1}'),
            ("huge top_logprobs", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 99999}'),
            ("n = 5", b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "n": 5}'),
            ("unknown role", b'{"model": "demo", "messages": [{"role": "root", "content": "x"}]}'),
            ("deep nesting", b'{"model": "demo", "x": ' + b"[" * 50000 + b"]" * 50000 + b"}"),
            ("invalid UTF-8", b'{"model": "demo", "messages": [{"role": "user", "content": "\xc3\x28\xff"}]}'),
            ("lone surrogate escape", b'{"model": "demo", "messages": [{"role": "user", "content": "\\udc00"}]}'),
            ("overlong UTF-8", b'{"model": "demo", "messages": [{"role": "user", "content": "\xc0\xaf"}]}'),
            ("prompt longer than a slot", json.dumps({"model": "demo", "messages": [{"role": "user", "content": "word " * 400}]}).encode()),
        ]:
            t.expect(name, post(CHAT, body))
        for name, path, body in [
            ("completion token out of vocabulary", "/v1/completions", b'{"model": "demo", "prompt": [1, 999999]}'),
            ("completion negative token", "/v1/completions", b'{"model": "demo", "prompt": [-3]}'),
            ("embedding input a number", "/v1/embeddings", b'{"model": "demo", "input": 5}'),
            ("embedding bad format", "/v1/embeddings", b'{"model": "demo", "input": "x", "encoding_format": "hex"}'),
            ("detokenize out of vocabulary", "/detokenize", b'{"tokens": [2147483647]}'),
            ("detokenize not a list", "/detokenize", b'{"tokens": {"a": 1}}'),
            ("tokenize without content", "/tokenize", b'{}'),
            ("ask without an index", "/v1/ask", b'{"question": "who?"}'),
        ]:
            t.expect(name, post(path, body))
        st, buf = t.expect("unknown model", post(CHAT, json.dumps(dict(ok_msgs, model="gpt-9")).encode()), [404])
        check(json.loads(body_of(buf))["error"]["code"] == "model_not_found", "model_not_found code")

        # Bodies over --max-body: by Content-Length, and chunked.
        big = b'{"model": "demo", "messages": [{"role": "user", "content": "' + b"a" * 200000 + b'"}]}'
        t.expect("body over --max-body", post(CHAT, big), [413])
        chunked = (b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                   b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for _ in range(20):
            chunked += b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
        chunked += b"0\r\n\r\n"
        t.expect("chunked body over --max-body", chunked, [413, 400])
        t.expect("Content-Length far beyond the limit",
                 b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                 b"\r\nContent-Length: 99999999999\r\n\r\n{", [413, 400])

        # Unknown routes and methods; keys.
        t.expect("unknown route", b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n", [404])
        t.expect("GET on a POST route", b"GET " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n", [404, 405])
        t.expect("no API key", post(CHAT, json.dumps(ok_msgs).encode(), key=False), [401])
        t.expect("wrong API key", post(CHAT, json.dumps(ok_msgs).encode(), extra_headers=b"Authorization: Bearer nope\r\n", key=False), [401])
        t.expect("metrics without the key", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", [401])
        t.expect("garbage request line", b"\x00\x01\x02 nonsense\r\n\r\n", range(400, 500), error_object=False)
        t.expect("header too long", b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", range(400, 500), error_object=False)
        t.expect("path too long", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", range(400, 500), error_object=False)

        # A header trickled byte by byte for longer than --timeout (2 s): 408 and closed, and
        # meanwhile other clients are served.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        start = time.time()
        closed = False
        got = b""
        for i, byte in enumerate(request):
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if i == 5:
                t.healthy("a slow client holding a connection")  # others are not blocked
            time.sleep(0.05)
            if time.time() - start > 8:
                break
        try:
            s.settimeout(5)
            got = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        check(closed or status_of(got) == 408 or got == b"", "slow client: expected 408 or a closed connection, got %r" % got[:200])
        check(time.time() - start < 9, "the slow client was not cut off within the timeout")
        t.healthy("slow client")
        print("slow client: cut off after %.1f s (%s)" % (time.time() - start, status_of(got) or "closed"), flush=True)

        # Disconnects mid-stream free their slots at once.
        long_chat = {"model": "demo", "stream": True, "max_tokens": 88, "temperature": 1, "seed": 3,
                     "messages": [{"role": "user", "content": "Tell me a long story."}]}
        for path, body in [(CHAT, long_chat), ("/v1/completions", {"model": "demo", "stream": True, "max_tokens": 88,
                                                                   "prompt": "Once upon a time", "seed": 4})]:
            before = len(server.log_lines)
            stream_then_disconnect(server, path, body)
            wait_slots_idle(server, 10)
            check(wait_log(server, before, "POST %s 200 " % path, " stop=cancelled"),
                  "the disconnected stream on %s was not cancelled: %s" % (path, server.log_tail(3)))
            t.healthy("disconnect mid-stream on " + path)
        # A plain (non-streamed) request whose client goes away is cancelled as well.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        before = len(server.log_lines)
        s.sendall(post(CHAT, json.dumps(dict(long_chat, stream=False)).encode()))
        time.sleep(0.02)
        s.close()
        wait_slots_idle(server, 10)
        check(wait_log(server, before, "POST %s 499 " % CHAT, " stop=cancelled"),
              "the abandoned plain request was not cancelled: %s" % server.log_tail(3))
        t.healthy("disconnect while waiting for a plain answer")
        print("disconnects: slots idle again within the bound", flush=True)

        # A last real request works.
        status, body = server.json("POST", CHAT, ok_msgs, AUTH)
        check(status == 200 and body["choices"][0]["message"]["content"] is not None, "a normal request after all that: %s" % body)
        print("%d hostile requests answered 4xx, server healthy" % t.count, flush=True)
    finally:
        rc = server.stop()
    check(rc == 0, "lmforge serve exited with %s after SIGTERM" % rc)

    # Connections beyond the cap: with --max-connections 2 (and 64 waiting), more get 503 +
    # Retry-After at once.
    capped = Server(args.lmforge, ["--max-connections", "2", "--timeout", "3", "-t", "1", "--parallel", "1"],
                    log_path=os.path.join(work, "capped.log"))
    try:
        idle = [socket.create_connection(("127.0.0.1", capped.port), timeout=10) for _ in range(80)]
        time.sleep(0.5)
        statuses = []
        for s in idle[-10:]:
            s.settimeout(5)
            try:
                buf = s.recv(4096)
            except socket.timeout:
                buf = b""
            statuses.append(status_of(buf))
            if status_of(buf) == 503:
                check(b"\r\nRetry-After: " in buf, "503 without Retry-After: %r" % buf[:300])
        for s in idle:
            s.close()
        check(statuses.count(503) >= 5, "connections over the cap: %s" % statuses)
        time.sleep(0.2)
        status, body, _ = capped.request("GET", "/health", timeout=20)
        check(status == 200, "/health after the connection flood: %s" % status)
        print("connection cap: %d of the last 10 connections answered 503 + Retry-After" % statuses.count(503), flush=True)
    finally:
        rc = capped.stop()
    check(rc == 0, "capped lmforge serve exited with %s after SIGTERM" % rc)


if __name__ == "__main__":
    main_wrapper("serve_hostile", main)
