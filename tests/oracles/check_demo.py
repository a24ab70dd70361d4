#!/usr/bin/python3
"""The committed demo model (models/demo) is the model we think it is, and lmforge runs it right.

1. `lmforge convert models/demo X.gguf --outtype f32` (lossless: the folder holds F16 weights),
   then `lmforge logits --all` on held-out Brown text, with the scalar reference engine and the
   fast engine, against a float64 PyTorch forward pass of the folder's own weights
   (torch_reference.py): max |dp| over every position and the whole vocabulary <= --tol.
2. The float64 reference's perplexity on that text is below --max-perplexity, so an untrained,
   damaged or wrongly exported model fails. The text is seven sentences from files the model
   never saw in training (tools/brown_text.py --split heldout), fed the way the model was
   trained: <s> and then the sentences' SentencePiece ids back to back.

The threshold, from the training log (models/demo/training_log.txt, held-out perplexity on 48
windows): 443 after 150 of the 900 steps (little more than word frequencies), 315 after 300,
201 after 600, 163 at the end; on this text the committed model scores 131 and an untrained or
30-step model about 1000. 200 fails anything trained for less than about two thirds of the run,
and a model whose weights were damaged, and leaves room for rounding on other machines.

The sentences are written here (not read from the npm corpus) so the check needs nothing that
scripts/install_oracles.sh installs.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_forward import convert, distance, lmforge_probs  # noqa: E402
from common import base_args, check, main_wrapper, sentencepiece_ids, workdir_for  # noqa: E402
from torch_reference import Llama  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "models", "demo")

# From Brown files held out of training (tools/brown_text.py --split heldout); 238 tokens.
HELDOUT_SENTENCES = [
    "Indications as late as the top of the sixth were that the Birds were to end their victory "
    "draught as they coasted along with a 3-to-o advantage.",
    "It was the first of two doubles by Robinson, who was in a mood to celebrate.",
    "The controversy now revolves mainly around the number and geographic origin of the deputies "
    "of the Secretary General and, more particularly, around the nature of his relationship "
    "with them.",
    "To begin with, the all-powerful Los Angeles Times does not publish a transcript of these "
    "press conferences.",
    "It should be admitted, too, that there is a good percentage of lapsed or nonchurchgoing "
    "Catholics (one paper writes 50 per cent).",
    "Laws on boating vary according to the state in which the craft is to be used and according "
    "to its horsepower.",
    "A national consensus of near unanimity exists that these governmental efforts are desirable "
    "as well as necessary.",
]


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEMO, help="the Hugging Face folder (default models/demo)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-perplexity", type=float, default=200.0)
    args = ap.parse_args()
    work = workdir_for(args, "demo")
    model = os.path.abspath(args.model)
    check(os.path.isfile(os.path.join(model, "model.safetensors")),
          "%s has no model.safetensors" % model)
    tok = os.path.join(model, "tokenizer.model")
    ids = [1]
    for ids_one in sentencepiece_ids(tok, HELDOUT_SENTENCES, add_bos=False):
        ids += ids_one
    check(len(ids) <= 256, "the held-out text is %d tokens, past the model's context" % len(ids))

    ref = Llama(model).probs(ids).numpy()
    targets = np.array(ids[1:])
    nll = -np.log(ref[np.arange(len(targets)), targets])
    ppl = float(np.exp(nll.mean()))
    print("float64 reference: held-out perplexity %.2f over %d tokens (limit %g)"
          % (ppl, len(targets), args.max_perplexity), flush=True)
    check(ppl < args.max_perplexity, "held-out perplexity %.2f is not below %g: the committed "
          "demo model is untrained or damaged" % (ppl, args.max_perplexity))

    gguf = os.path.join(work, "demo.f32.gguf")
    convert(args.lmforge, model, gguf, "f32")
    vocab = ref.shape[1]
    for engine in ("ref", "fast"):
        tag = "demo/f32/%s" % engine
        probs = lmforge_probs(tag, args.lmforge, gguf, ids, vocab, engine)
        worst, where, top1 = distance([probs], [ref])
        print("%-16s max |dp| = %.2e, top-1 agreement %.1f%% (%s)"
              % (tag, worst, 100 * top1, where), flush=True)
        check(worst <= args.tol, "%s: max |dp| = %.3g > %g at %s" % (tag, worst, args.tol, where))


if __name__ == "__main__":
    main_wrapper("check_demo", main)
