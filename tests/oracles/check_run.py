#!/usr/bin/python3
"""`lmforge run --temp 0` continues each prompt with exactly the float64 PyTorch reference's
greedy tokens (tokenization by our tokenizer, generation by our forward pass and sampler).

For every fixture model: HF folder -> GGUF f32 (lmforge convert), then
`lmforge run -m X.gguf -p PROMPT -n 12 --temp 0 --json`; the generated ids must equal
torch_reference.Llama(folder).greedy(libsentencepiece ids with BOS, 12), up to an EOS where
lmforge stops.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, base_args, check, fixture_manifest, main_wrapper, run,  # noqa: E402
                    sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402

N = 12


def main():
    args = base_args(__doc__.split("\n")[0]).parse_args()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "run")
    manifest = fixture_manifest(fixtures)
    tokenizer = os.path.join(fixtures, manifest["tokenizer"])
    prompts = PROMPTS[:3]
    sp_ids = sentencepiece_ids(tokenizer, prompts)
    for model in manifest["models"]:
        src = os.path.join(fixtures, model["path"])
        gguf = os.path.join(work, model["name"] + ".f32.gguf")
        run([args.lmforge, "convert", src, gguf, "--outtype", "f32", "--force", "-q"], timeout=120)
        ref = Llama(src)
        for prompt, ids in zip(prompts, sp_ids):
            want = ref.greedy(ids, N)
            out = run([args.lmforge, "run", "-m", gguf, "-p", prompt, "-n", str(N), "--temp", "0", "--json"],
                      timeout=120)
            text = out.stdout if isinstance(out.stdout, str) else out.stdout.decode()
            got = [json.loads(line)["token"] for line in text.splitlines() if line.strip()]
            eos = 2  # the fixtures' SentencePiece eos id
            if len(got) < N:  # stopped at EOS: the reference must have produced it there
                check(len(want) > len(got) and want[len(got)] == eos,
                      "%s: lmforge stopped after %d tokens, the reference continues with %r"
                      % (model["name"], len(got), want[len(got):]))
            check(got == want[:len(got)], "%s %r: lmforge %r, reference %r" % (model["name"], prompt, got, want))
        print("%-28s greedy continuations identical to the float64 reference for %d prompts"
              % (model["name"], len(prompts)), flush=True)


if __name__ == "__main__":
    main_wrapper("check_run", main)
