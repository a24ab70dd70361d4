#!/usr/bin/python3
"""Scale-out: two `lmforge serve` replicas behind nginx (Debian's), on loopback ports, with the
configuration documented in docs/nginx/lmforge.conf (its ports substituted). Through nginx:
plain and streamed chats (the streamed deltas concatenate to the plain answer at temperature 0,
whichever replica answers), embeddings and the error objects; both replicas take part; a
stream dropped by its client is cancelled on its replica (every slot idle afterwards).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import base_args, check, main_wrapper, workdir_for  # noqa: E402
from serve_harness import REPO, Server, raw_request  # noqa: E402

NGINX_CONF = os.path.join(REPO, "docs", "nginx", "lmforge.conf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, timeout=60, drop_after=None):
    """(status, head text, body bytes with chunked transfer undone); with drop_after, closes
    after that many server-sent events."""
    stop = (lambda buf: buf.count(b"data: ") >= drop_after) if drop_after is not None else None
    status, _, head, rest = raw_request(port, method, path, body, timeout, stop)
    if "transfer-encoding: chunked" in head.lower():
        out, r = b"", rest
        while r:
            size, _, r = r.partition(b"\r\n")
            if not size.strip():
                break
            n = int(size, 16)
            if n == 0:
                break
            out += r[:n]
            r = r[n + 2:]
        rest = out
    return status, head, rest


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "serve_nginx")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check(os.path.exists(nginx), "nginx is not installed (Debian nginx-light; scripts/install_test_deps.sh)")
    replicas = [Server(args.lmforge, ["--parallel", "2", "-t", "1", "--alias", "demo"], log_path=os.path.join(work, "replica%d.log" % i))
                for i in range(2)]
    front = free_port()
    conf = open(NGINX_CONF).read()
    conf = conf.replace("127.0.0.1:8081", "127.0.0.1:%d" % replicas[0].port)
    conf = conf.replace("127.0.0.1:8082", "127.0.0.1:%d" % replicas[1].port)
    conf = conf.replace("listen 127.0.0.1:8080", "listen 127.0.0.1:%d" % front)
    check(conf.count(str(replicas[0].port)) == 1 and "listen 127.0.0.1:%d" % front in conf, "docs/nginx/lmforge.conf lost its ports")
    with open(os.path.join(work, "lmforge.conf"), "w") as f:
        f.write(conf)
    temp = os.path.join(work, "temp")
    os.makedirs(temp, exist_ok=True)
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write("%s\nworker_processes 1;\nevents { worker_connections 256; }\nhttp {\n"
                "  access_log %s/access.log;\n  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
                "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
                "  include %s/lmforge.conf;\n}\n" % ("user root;" if os.geteuid() == 0 else "", work, temp, temp, temp, temp, temp, work))
    proc = subprocess.Popen([nginx, "-p", work, "-c", os.path.join(work, "nginx.conf"), "-e", os.path.join(work, "error.log"),
                             "-g", "daemon off; pid %s/nginx.pid;" % work], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while True:
            try:
                status, _, body = request(front, "GET", "/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            check(proc.poll() is None, "nginx exited: %s" % proc.stderr.read().decode(errors="replace")[-2000:])
            check(time.time() < deadline, "nginx did not answer within 20 s")
            time.sleep(0.1)

        chat = {"model": "demo", "temperature": 0, "max_tokens": 24,
                "messages": [{"role": "user", "content": "Tell me about the old house by the river."}]}
        status, _, body = request(front, "POST", "/v1/chat/completions", chat)
        check(status == 200, "plain chat through nginx: %s %r" % (status, body[:300]))
        answer = json.loads(body)["choices"][0]["message"]["content"]

        results = []

        def streamer():
            st, head, b = request(front, "POST", "/v1/chat/completions", dict(chat, stream=True))
            text = ""
            done = False
            for block in b.decode().split("\n\n"):
                if block.startswith("data: [DONE]"):
                    done = True
                elif block.startswith("data: "):
                    ev = json.loads(block[6:])
                    if ev["choices"]:
                        text += ev["choices"][0]["delta"].get("content", "")
            results.append((st, "text/event-stream" in head, done, text))

        threads = [threading.Thread(target=streamer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(len(results) == 8, "streams did not finish")
        for st, is_sse, done, text in results:
            check(st == 200 and is_sse and done, "stream through nginx: %s sse=%s done=%s" % (st, is_sse, done))
            check(text == answer, "streamed through nginx %r != plain %r" % (text, answer))
        status, _, body = request(front, "POST", "/v1/embeddings", {"model": "demo", "input": "a river"})
        check(status == 200 and len(json.loads(body)["data"][0]["embedding"]) > 0, "embeddings through nginx")
        status, _, body = request(front, "POST", "/v1/chat/completions", {"model": "demo", "messages": 7})
        check(status == 400 and json.loads(body)["error"]["param"] == "messages", "a 400 through nginx: %s" % body[:200])
        status, _, body = request(front, "POST", "/v1/chat/completions", dict(chat, model="nope"))
        check(status == 404 and json.loads(body)["error"]["code"] == "model_not_found", "a 404 through nginx")

        served = [sum(1 for line in r.log_lines if "POST /v1/chat/completions 200" in line) for r in replicas]
        check(all(n > 0 for n in served), "both replicas should take part: %s" % served)
        print("through nginx: 1 plain + 8 streamed chats (replicas answered %s), embeddings, 400, 404" % served, flush=True)

        # A client that drops its stream: nginx closes its upstream connection, the replica cancels.
        request(front, "POST", "/v1/chat/completions", dict(chat, stream=True, max_tokens=200, temperature=1, seed=5), drop_after=2)
        deadline = time.time() + 15
        while True:
            idle = all(all(s["state"] == "idle" for s in r.json("GET", "/slots")[1]) for r in replicas)
            if idle:
                break
            check(time.time() < deadline, "a slot stayed busy after the client dropped its stream through nginx")
            time.sleep(0.1)
        print("a stream dropped at nginx frees its replica's slot", flush=True)
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        codes = [r.stop() for r in replicas]
    check(codes == [0, 0], "replicas exited with %s" % codes)


if __name__ == "__main__":
    main_wrapper("serve_nginx", main)
