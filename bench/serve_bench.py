#!/usr/bin/python3
"""`lmforge serve` beside llama.cpp's `llama-server` on the same GGUF file: aggregate generated
tokens/s and time to first token with 1, 2, 4 and 8 concurrent streaming /v1/completions.

    serve_bench.py --lmforge build/lmforge [--llama-server PATH] [--model FILE.gguf]
                   [--threads 2] [--slots 8] [--ctx 512] [--concurrency 1,2,4,8]
                   [--tokens 64] [--rounds 3] [--only lmforge|llama-server] [--json OUT.json]

Both servers are started once, on 127.0.0.1 (lmforge on a port it picks, llama-server on a
free port found here), with the same engine threads (-t, and llama-server's -tb), the same
number of slots and the same context per slot (lmforge's -c is per slot; llama-server divides
its -c among its slots, so it gets slots x ctx). They stay up for the whole run; an idle server
uses no CPU, so the one not being measured does not disturb the other.

Every request is the same for both servers: a streaming /v1/completions with a distinct prompt
(different per stream and per round, so no prompt cache can answer it; `cache_prompt` false for
llama-server as well), temperature 0, `max_tokens` --tokens with `ignore_eos` (both servers take
it), so both generate exactly the same number of tokens; each stream's `usage` (stream_options
.include_usage) is checked against it. For each round, for each concurrency C, both servers run
C streams at once, the server that goes first alternating from round to round.

Per server and concurrency, medians over rounds of: aggregate tok/s (all streams' generated
tokens / from the first request sent to the last stream's end), per-stream tok/s (generated
tokens after the first / from the first to the last token); over every stream of every round:
TTFT p50 and p99 (from sending the request to the first token's event). ratio = lmforge /
llama-server (aggregate tok/s: above 1 lmforge is faster; TTFT: below 1 lmforge is faster).
How many streams produced the same text on both servers is printed too (greedy, so mostly
all on a trained model; the two engines' float sums differ, so a near tie can go either way;
/work/bench-all's TinyLlama-shape files are synthetic weights, whose greedy output is a
repeated token, so there it says little). TTFT is the first token's event, whatever its text.

llama-server runs with --no-repack by default (--llama-args to change it): on this Sapphire
Rapids host its AMX weight buffers (the first extra buffer type ggml picks for Q4_0, Q8_0 and
the K-quants when built with GGML_NATIVE) make the first decode segfault in
ggml_backend_amx_mul_mat (upstream issue ggml-org/llama.cpp#20824, machine-dependent), at any
thread count. --no-repack turns off all extra buffer types, so its AVX-512 Q4_0 repacked
kernels (CPU_REPACK) are off too: llama-server then multiplies from the GGUF layout.

Every socket has a timeout (--request-timeout) and every wait is bounded; both servers are
stopped (SIGTERM, then SIGKILL) whatever happens.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_MODEL = "/work/bench-all/tinyllama.q4_0.gguf"

# Prompt material: topics and openings combined per stream and round, so that every request
# is new to both servers' caches while all prompts have similar lengths.
TOPICS = ["a lighthouse keeper", "the history of tea", "a robot learning to paint", "mountain weather",
          "a small bakery", "the first train across a desert", "an old map", "a city garden",
          "a violin maker", "the northern lights", "a library at night", "a fishing village",
          "a clockmaker's apprentice", "the last day of summer", "a river delta", "a chess tournament"]
OPENINGS = ["Write a short story about", "Describe in detail", "Explain to a child",
            "Write a letter about", "Give a lecture on", "Tell the legend of"]


def prompt_for(round_index, stream_index, concurrency):
    topic = TOPICS[(stream_index * 5 + round_index * 3 + concurrency) % len(TOPICS)]
    opening = OPENINGS[(stream_index + round_index + concurrency) % len(OPENINGS)]
    return "%s %s (round %d, reader %d of %d). Begin:" % (opening, topic, round_index + 1, stream_index + 1, concurrency)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerProcess:
    """One server process: its log in a file, its port, a bounded wait for /health."""

    def __init__(self, name, cmd, log_path, port=None, port_pattern=None, start_timeout=300):
        self.name, self.cmd, self.port = name, cmd, port
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s; log %s:\n%s" % (name, self.proc.returncode, log_path, self.log_tail()))
            if self.port is None and port_pattern:
                m = re.search(port_pattern, self.log_text())
                if m:
                    self.port = int(m.group(1))
            if self.port is not None and self.healthy():
                return
            time.sleep(0.2)
        raise RuntimeError("%s was not healthy within %ds; log %s:\n%s" % (name, start_timeout, log_path, self.log_tail()))

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def healthy(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            conn.close()
            return r.status == 200
        except OSError:
            return False

    def model_id(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/v1/models")
        body = json.loads(conn.getresponse().read())
        conn.close()
        return body["data"][0]["id"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def stream_completion(port, body, timeout, out):
    """One streaming /v1/completions; fills `out` with send/first/last/end times, the text, the
    number of text events and the usage the server reported (or an error)."""
    out["sent"] = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            out["error"] = "HTTP %d: %s" % (r.status, r.read()[:300])
            return
        text, events, usage = [], 0, None
        for raw in r:  # one line at a time; every read bounded by the socket timeout
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            event = json.loads(data)
            if "error" in event:
                out["error"] = str(event["error"])[:300]
                return
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or []:
                if choice.get("finish_reason") is not None:
                    continue  # the closing event carries no token
                # One event per token on both servers (see token_events_body): time it even when
                # its text is empty (a byte of an unfinished UTF-8 character, or a synthetic
                # model's output).
                now = time.perf_counter()
                out.setdefault("first", now)
                out["last"] = now
                events += 1
                text.append(choice.get("text") or "")
        conn.close()
        out["end"] = time.perf_counter()
        out["text"] = "".join(text)
        out["events"] = events
        out["usage"] = usage
    except (OSError, ValueError, http.client.HTTPException) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)


def token_events_body(name, body):
    """llama-server sends one event per token, text or not; lmforge skips tokens that release no
    text (an unfinished UTF-8 character) unless logprobs are asked for, so it gets `logprobs`
    0 (each token's own log-probability, no alternatives: one log-softmax per token, a few
    microseconds against a step of tens of milliseconds) and both are timed per token."""
    return dict(body, logprobs=0) if name == "lmforge" else body


def run_streams(name, server, model_id, prompts, tokens, timeout):
    """C streams at once (C = len(prompts)); returns the per-stream records."""
    records = [{} for _ in prompts]
    threads = []
    for prompt, rec in zip(prompts, records):
        body = token_events_body(name, {"model": model_id, "prompt": prompt, "max_tokens": tokens, "temperature": 0,
                                        "stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True,
                                        "cache_prompt": False})
        threads.append(threading.Thread(target=stream_completion, args=(server.port, body, timeout, rec), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    for i, rec in enumerate(records):
        if "end" not in rec and "error" not in rec:
            rec["error"] = "stream %d did not end within %ds" % (i, timeout)
    return records


def check_counts(name, records, tokens):
    for i, rec in enumerate(records):
        if "error" in rec:
            sys.exit("serve_bench: %s stream %d failed: %s" % (name, i, rec["error"]))
        usage = rec.get("usage") or {}
        got = usage.get("completion_tokens")
        if got != tokens or rec["events"] != tokens:
            sys.exit("serve_bench: %s stream %d generated %s tokens (usage) in %d events, not %d: ignore_eos not honoured?"
                     % (name, i, got, rec["events"], tokens))


def summarize_round(records, tokens):
    start = min(r["sent"] for r in records)
    end = max(r["end"] for r in records)
    per_stream = [(tokens - 1) / (r["last"] - r["first"]) for r in records if r["last"] > r["first"]]
    return {
        "aggregate_tok_s": len(records) * tokens / (end - start),
        "per_stream_tok_s": statistics.median(per_stream) if per_stream else 0.0,
        "ttft_ms": [1000.0 * (r["first"] - r["sent"]) for r in records],
    }


def percentile(values, p):
    """Nearest-rank percentile (p99 of fewer than 100 samples is their maximum)."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmforge", default=os.path.join(ROOT, "build", "lmforge"))
    ap.add_argument("--llama-server", help="llama-server binary (default: scripts/build_llama_tools.sh --native's)")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=512, help="context of each slot")
    ap.add_argument("--concurrency", default="1,2,4,8")
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per stream")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--llama-args", default="--no-repack",
                    help="extra llama-server arguments, space-separated (default --no-repack: see above)")
    ap.add_argument("--only", choices=["lmforge", "llama-server"], help="measure one server only")
    ap.add_argument("--request-timeout", type=int, default=600)
    ap.add_argument("--logdir", default="/tmp", help="where the servers' logs go")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    levels = [int(x) for x in a.concurrency.split(",")]
    if max(levels) > a.slots:
        sys.exit("serve_bench: concurrency %d is more than --slots %d" % (max(levels), a.slots))
    if not os.path.isfile(a.model):
        sys.exit("serve_bench: %s is not a file" % a.model)

    names = ["lmforge", "llama-server"] if not a.only else [a.only]
    servers = {}
    try:
        if "lmforge" in names:
            servers["lmforge"] = ServerProcess(
                "lmforge", [a.lmforge, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", "0", "-t", str(a.threads),
                            "--parallel", str(a.slots), "-c", str(a.ctx), "--quiet"],
                os.path.join(a.logdir, "serve_bench.lmforge.log"), port_pattern=r"listening on http://[^:]+:(\d+)")
        if "llama-server" in names:
            binary = a.llama_server
            if not binary:
                bindir = subprocess.run(["sh", os.path.join(ROOT, "scripts", "build_llama_tools.sh"), "--native"],
                                        check=True, capture_output=True, text=True).stdout.strip()
                binary = os.path.join(bindir, "llama-server")
            port = free_port()
            servers["llama-server"] = ServerProcess(
                "llama-server", [binary, "-m", a.model, "--host", "127.0.0.1", "--port", str(port), "-t", str(a.threads),
                                 "-tb", str(a.threads), "-np", str(a.slots), "-c", str(a.ctx * a.slots),
                                 "--cache-ram", "0", "--no-webui"] + a.llama_args.split(),
                os.path.join(a.logdir, "serve_bench.llama-server.log"), port=port)
        ids = {n: s.model_id() for n, s in servers.items()}
        for n, s in servers.items():  # one short request each: first-touch of the weights, not timed
            check_counts(n, run_streams(n, s, ids[n], ["Hello"], 4, a.request_timeout), 4)

        print("serve_bench: %s, -t %d, %d slots of %d positions, %d tokens per stream, %d rounds; load average %s"
              % (os.path.basename(a.model), a.threads, a.slots, a.ctx, a.tokens, a.rounds, loadavg()), file=sys.stderr)
        rounds = {n: {c: [] for c in levels} for n in names}
        texts = {n: {} for n in names}
        loads = [loadavg()]
        for r in range(a.rounds):
            order = names if r % 2 == 0 else list(reversed(names))
            for c in levels:
                prompts = [prompt_for(r, i, c) for i in range(c)]
                for n in order:
                    recs = run_streams(n, servers[n], ids[n], prompts, a.tokens, a.request_timeout)
                    check_counts(n, recs, a.tokens)
                    s = summarize_round(recs, a.tokens)
                    rounds[n][c].append(s)
                    for p, rec in zip(prompts, recs):
                        texts[n][p] = rec["text"]
                    print("  round %d, %d streams, %-12s %7.2f tok/s aggregate, %6.2f per stream, TTFT p50 %6.0f max %6.0f ms"
                          "  (load %s)" % (r + 1, c, n, s["aggregate_tok_s"], s["per_stream_tok_s"],
                                           statistics.median(s["ttft_ms"]), max(s["ttft_ms"]), loadavg()),
                          file=sys.stderr, flush=True)
            loads.append(loadavg())
    finally:
        for s in servers.values():
            s.stop()

    results = []
    for c in levels:
        row = {"concurrency": c}
        for n in names:
            rs = rounds[n][c]
            ttft = [t for x in rs for t in x["ttft_ms"]]
            row[n] = {
                "aggregate_tok_s": statistics.median(x["aggregate_tok_s"] for x in rs),
                "aggregate_tok_s_rounds": [x["aggregate_tok_s"] for x in rs],
                "per_stream_tok_s": statistics.median(x["per_stream_tok_s"] for x in rs),
                "ttft_p50_ms": statistics.median(ttft),
                "ttft_p99_ms": percentile(ttft, 99),
            }
        if len(names) == 2:
            lm, ll = row["lmforge"], row["llama-server"]
            row["ratio_aggregate"] = lm["aggregate_tok_s"] / ll["aggregate_tok_s"]
            row["ratio_ttft_p99"] = lm["ttft_p99_ms"] / ll["ttft_p99_ms"]
            prompts = [p for p in texts["lmforge"] if p.endswith("of %d). Begin:" % c)]
            row["same_text"] = "%d/%d" % (sum(texts["lmforge"][p] == texts["llama-server"].get(p) for p in prompts), len(prompts))
        results.append(row)

    head = "| streams |"
    rule = "|---:|"
    for n in names:
        head += " %s agg tok/s | per-stream tok/s | TTFT p50 ms | TTFT p99 ms |" % n
        rule += "---:|---:|---:|---:|"
    if len(names) == 2:
        head += " agg ratio | p99 TTFT ratio | same text |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for row in results:
        line = "| %d |" % row["concurrency"]
        for n in names:
            x = row[n]
            line += " %.2f | %.2f | %.0f | %.0f |" % (x["aggregate_tok_s"], x["per_stream_tok_s"], x["ttft_p50_ms"], x["ttft_p99_ms"])
        if len(names) == 2:
            line += " %.2fx | %.2fx | %s |" % (row["ratio_aggregate"], row["ratio_ttft_p99"], row["same_text"])
        print(line)
    print("load average (1/5/15 min) before and after each round: %s" % " -> ".join(loads))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "threads": a.threads, "slots": a.slots, "ctx": a.ctx, "tokens": a.tokens,
                       "rounds": a.rounds, "loadavg": loads, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
