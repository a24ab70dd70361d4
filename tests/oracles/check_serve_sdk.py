#!/usr/bin/python3
"""`lmforge serve` against the official clients and against `lmforge run`.

1. The `openai` npm SDK and @langchain/openai (serve_sdk.mjs), unchanged, against a live
   server on the demo model with an API key: models, chat plain and streamed (the streamed
   deltas concatenate to the plain answer at temperature 0), the SDK's stream helper, stop
   strings, logprobs, text completions (echo, streamed), embeddings as floats and as the SDK's
   default base64, and errors surfacing as the SDK's classes (401, 404 model_not_found, 400).
2. Greedy decoding is the same as `lmforge run --temp 0` on the same prompt: a text completion
   against `run -p` (both tokenize BOS + text), a chat answer against `run -i` with the same
   system prompt (both render ChatML: the demo model has no template).
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NODE_MODULES, base_args, check, main_wrapper, workdir_for  # noqa: E402
from serve_harness import DEMO, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "sk-lmforge-test-key"


def run_text(lmforge, args, stdin=None):
    r = subprocess.run([lmforge, "run", "-m", DEMO, "--temp", "0", "-t", "1"] + args, input=stdin, capture_output=True,
                       text=True, timeout=300)
    check(r.returncode == 0, "lmforge run failed: %s" % r.stderr[-2000:])
    out = r.stdout
    return out[:-1] if out.endswith("\n") else out


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    work = workdir_for(args, "serve_sdk")
    check(os.path.isdir(os.path.join(NODE_MODULES, "openai")),
          "tests/oracles/node_modules/openai is missing: run scripts/install_oracles.sh")
    server = Server(args.lmforge, ["--api-key", KEY, "--parallel", "2", "-t", "1", "--alias", "demo"],
                    log_path=os.path.join(work, "server.log"))
    try:
        r = subprocess.run(["node", os.path.join(HERE, "serve_sdk.mjs"), server.base_url, KEY, "demo"],
                           capture_output=True, text=True, timeout=600, cwd=HERE)
        check(r.returncode == 0, "serve_sdk.mjs failed:\n%s\n%s\nserver log:\n%s" % (r.stdout[-3000:], r.stderr[-3000:],
                                                                                 server.log_tail()))
        results = json.loads(r.stdout.strip().splitlines()[-1])
        print("SDK checks passed: chat %r, completion %r, embedding dim %d" %
              (results["chat"], results["completion"], results["embedding_dim"]), flush=True)

        # Greedy server output == `lmforge run --temp 0` on the same prompt.
        auth = {"Authorization": "Bearer " + KEY}
        for prompt in ["The old house", "It was the first of two doubles by Robinson,", ""]:
            status, body = server.json("POST", "/v1/completions",
                                       {"model": "demo", "prompt": prompt, "temperature": 0, "max_tokens": 20}, auth)
            check(status == 200, "completion: %s %s" % (status, body))
            expected = run_text(args.lmforge, ["-p", prompt, "-n", "20", "--no-display-prompt"])
            got = body["choices"][0]["text"]
            check(got == expected, "completion of %r: server %r, run %r" % (prompt, got, expected))
        system, user = "You are a helpful assistant.", "Tell me about the old house by the river."
        status, body = server.json("POST", "/v1/chat/completions",
                                   {"model": "demo", "temperature": 0, "max_tokens": 24,
                                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]},
                                   auth)
        check(status == 200, "chat: %s %s" % (status, body))
        expected = run_text(args.lmforge, ["-i", "--system", system, "-n", "24"], stdin=user + "\n")
        got = body["choices"][0]["message"]["content"]
        check(got == expected, "chat: server %r, run -i %r" % (got, expected))
        print("temperature 0 matches lmforge run --temp 0 (3 completions, 1 chat)", flush=True)
    finally:
        rc = server.stop()
    check(rc == 0, "lmforge serve exited with %s after SIGTERM" % rc)


if __name__ == "__main__":
    main_wrapper("serve_sdk", main)
