#!/usr/bin/python3
"""LoRA training against PyTorch (issue 13, Tests): the trainer of src/train/ (driven by
train_step_tool) on GGUF files converted by lmforge, against a LLaMA forward written here from
transformers' LlamaForCausalLM with PEFT's LoRA (W x + alpha/r * B(A x)) and torch autograd:

1. the gradient of the mean next-token cross-entropy with respect to every A and B at the
   start, against float64 autograd (within 1e-4 of each tensor's largest gradient);
2. a few AdamW steps (gradient accumulation, weight decay) against torch.optim.AdamW in float32
   on the same windows: every loss within 1e-4 relative, every final adapter tensor within
   1e-4 in norm (norm_rel_err says why not per element).

The adapter's B rows for q and k are in the GGUF's permuted rotary order (engine/lora_adapter.h);
the reference works in Hugging Face order, so they are permuted back here (llama.cpp's
convert_hf_to_gguf permute, inverted). A qwen2 base keeps Hugging Face's order in its GGUF (and
rotates in NEOX mode, which is rotate_half here) and adds frozen q/k/v biases (modeling_qwen2).
Cases: models/demo (MHA 4/2 heads, tied embeddings, all seven targets), the GQA fixture (6/2
heads, untied, some targets) and the qwen2-bias variant (3/1 heads, biases, theta 1e6, all
targets), 1 to 3 threads.
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CheckFailed, base_args, check, load_hf_config, load_hf_state_dict, main_wrapper, run, workdir_for  # noqa: E402,F401
from check_forward import convert  # noqa: E402

TARGETS = {"q": ("attn_q", "self_attn.q_proj"), "k": ("attn_k", "self_attn.k_proj"),
           "v": ("attn_v", "self_attn.v_proj"), "o": ("attn_output", "self_attn.o_proj"),
           "gate": ("ffn_gate", "mlp.gate_proj"), "up": ("ffn_up", "mlp.up_proj"),
           "down": ("ffn_down", "mlp.down_proj")}


def gguf_rows_to_hf(rows, n_head):
    """Inverse of llama.cpp's permute(): GGUF rotary row order -> Hugging Face order."""
    hd = rows.shape[0] // n_head
    return rows.reshape(n_head, hd // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


class LoraLlama:
    """LlamaForCausalLM's forward over a batch [B, T], every adapted linear as PEFT computes it."""

    def __init__(self, folder, dtype):
        cfg = load_hf_config(folder)
        self.w = {k: v.to(dtype) for k, v in load_hf_state_dict(folder).items()}
        self.dtype = dtype
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_heads
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.n_heads
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])
        # llama GGUFs permute q/k rows into adjacent pairs; qwen2 GGUFs keep HF's order (NEOX).
        self.permuted = cfg["architectures"][0] != "Qwen2ForCausalLM"
        self.lora = {}      # HF weight name -> (A, B) leaf tensors
        self.scale = 1.0

    def set_adapter(self, tensors, rank, alpha):
        """tensors: GGUF-named values (B rows of q/k in GGUF order) -> leaf parameters."""
        self.scale = alpha / rank
        self.lora, self.names = {}, {}
        for l in range(self.n_layers):
            for key, (gg, hf) in TARGETS.items():
                an = "blk.%d.%s.weight.lora_a" % (l, gg)
                if an not in tensors:
                    continue
                a = torch.tensor(np.array(tensors[an], dtype=np.float32)).reshape(rank, -1)
                b = torch.tensor(np.array(tensors[an[:-1] + "b"], dtype=np.float32)).reshape(-1, rank)
                if key in ("q", "k") and self.permuted:
                    b = gguf_rows_to_hf(b, self.n_heads if key == "q" else self.n_kv)
                name = "model.layers.%d.%s.weight" % (l, hf)
                self.lora[name] = (a.to(self.dtype).requires_grad_(), b.to(self.dtype).requires_grad_())
                self.names[name] = (an, an[:-1] + "b", key)

    def parameters(self):
        return [t for pair in self.lora.values() for t in pair]

    def linear(self, x, name):
        y = x @ self.w[name].T
        bias = name[:-len("weight")] + "bias"
        if bias in self.w:  # qwen2's q/k/v biases (frozen)
            y = y + self.w[bias]
        if name in self.lora:
            a, b = self.lora[name]
            y = y + ((x @ a.T) @ b.T) * self.scale
        return y

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def loss(self, windows):
        """Mean next-token cross-entropy over every position of windows [B, T+1]."""
        ids = torch.tensor(windows)
        inp, tgt = ids[:, :-1], ids[:, 1:]
        B, T = inp.shape
        hd, w = self.head_dim, self.w
        x = w["model.embed_tokens.weight"][inp]
        inv = 1.0 / (self.theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        f = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)

        def rot(t):
            h = t.shape[-1] // 2
            return t * cos + torch.cat((-t[..., h:], t[..., :h]), -1) * sin

        mask = torch.full((T, T), float("-inf"), dtype=self.dtype).triu(1)
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = self.linear(h, p + "self_attn.q_proj.weight").view(B, T, self.n_heads, hd).transpose(1, 2)
            k = self.linear(h, p + "self_attn.k_proj.weight").view(B, T, self.n_kv, hd).transpose(1, 2)
            v = self.linear(h, p + "self_attn.v_proj.weight").view(B, T, self.n_kv, hd).transpose(1, 2)
            q, k = rot(q), rot(k)
            rep = self.n_heads // self.n_kv
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1)
            o = (att @ v).transpose(1, 2).reshape(B, T, self.n_heads * hd)
            x = x + self.linear(o, p + "self_attn.o_proj.weight")
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            g = self.linear(h, p + "mlp.gate_proj.weight")
            u = self.linear(h, p + "mlp.up_proj.weight")
            x = x + self.linear(torch.nn.functional.silu(g) * u, p + "mlp.down_proj.weight")
        logits = self.rms(x, w["model.norm.weight"]) @ self.head.T
        return torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1))

    def in_gguf_order(self, name, b):
        an, bn, key = self.names[name]
        if key not in ("q", "k") or not self.permuted:
            return b
        # gguf_rows_to_hf's inverse: llama.cpp's permute().
        n = self.n_heads if key == "q" else self.n_kv
        hd = b.shape[0] // n
        return b.reshape(n, 2, hd // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def step_windows(tokens, ctx, per_step, steps):
    """The windows of each step in file order, as train_step_tool takes them."""
    n = (len(tokens) - 1) // ctx
    out, nxt = [], 0
    for _ in range(steps):
        if nxt + per_step > n:
            nxt = 0
        out.append([tokens[(nxt + i) * ctx:(nxt + i) * ctx + ctx + 1] for i in range(per_step)])
        nxt += per_step
    return out


def norm_rel_err(got, want):
    """||got - want|| / ||want|| (Frobenius). For weights after AdamW steps: an element whose
    gradient is as small as eps (1e-8) moves by an amount that float32 rounding of that tiny
    gradient decides (torch float32 itself differs from float64 there by 2e-4 of the tensor's
    largest element), while a wrong gradient moves every element by about lr."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def check_case(args, work, label, folder, cfg):
    gguf = os.path.join(work, label + ".gguf")
    convert(args.lmforge, folder, gguf, "f32")
    vocab = load_hf_config(folder)["vocab_size"]
    rng = np.random.default_rng(cfg["seed"])
    n_windows = cfg["batch"] * cfg["grad_accum"] * 2 + 1
    tokens = [int(t) for t in rng.integers(3, vocab, size=n_windows * cfg["ctx"] + 1)]
    conf = dict(cfg, model=gguf, tokens=tokens, random_b=True)
    conf_path, out_path = os.path.join(work, label + ".json"), os.path.join(work, label + ".out.json")
    with open(conf_path, "w") as f:
        json.dump(conf, f)
    run([args.tool, conf_path, out_path], timeout=300)
    with open(out_path) as f:
        ours = json.load(f)
    per_step = cfg["batch"] * cfg["grad_accum"]
    steps = step_windows(tokens, cfg["ctx"], per_step, cfg["steps"])
    check(len(ours["losses"]) == cfg["steps"], "%s: %d losses" % (label, len(ours["losses"])))

    # 1. the first step's gradient against float64 autograd
    ref = LoraLlama(folder, torch.float64)
    ref.set_adapter(ours["init"], cfg["rank"], cfg["alpha"])
    loss = ref.loss(steps[0])
    loss.backward()
    worst = 0.0
    for name, (a, b) in ref.lora.items():
        an, bn, _ = ref.names[name]
        for got_name, t in ((an, a.grad), (bn, ref.in_gguf_order(name, b.grad))):
            e = rel_err(ours["grad0"][got_name], t.numpy().reshape(-1))
            worst = max(worst, e)
            check(e < 1e-4, "%s: gradient of %s differs from float64 autograd by %.2e of its largest element"
                  % (label, got_name, e))
    check(abs(ours["losses"][0] - loss.item()) < 1e-5 * loss.item(),
          "%s: first loss %.8f, float64 reference %.8f" % (label, ours["losses"][0], loss.item()))
    print("%s: %d gradient tensors match float64 autograd (worst %.2e), loss %.6f"
          % (label, 2 * len(ref.lora), worst, loss.item()))

    # 2. AdamW steps against torch.optim.AdamW in float32
    t32 = LoraLlama(folder, torch.float32)
    t32.set_adapter(ours["init"], cfg["rank"], cfg["alpha"])
    opt = torch.optim.AdamW(t32.parameters(), lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=cfg["weight_decay"])
    acc = cfg["grad_accum"]
    for s, windows in enumerate(steps):
        opt.zero_grad()
        total = 0.0
        for m in range(acc):
            l = t32.loss(windows[m * cfg["batch"]:(m + 1) * cfg["batch"]]) / acc
            l.backward()
            total += l.item()
        opt.step()
        check(abs(ours["losses"][s] - total) <= 1e-4 * abs(total),
              "%s: step %d loss %.8f, torch %.8f" % (label, s, ours["losses"][s], total))
    worst = 0.0
    for name, (a, b) in t32.lora.items():
        an, bn, _ = t32.names[name]
        for got_name, t in ((an, a), (bn, t32.in_gguf_order(name, b))):
            e = norm_rel_err(ours["final"][got_name], t.detach().numpy().reshape(-1))
            worst = max(worst, e)
            check(e < 1e-4, "%s: %s after %d AdamW steps differs from torch by %.2e (relative)"
                  % (label, got_name, cfg["steps"], e))
    moved = max(rel_err(ours["final"][k], ours["init"][k]) for k in ours["init"])
    check(moved > 1e-3, "%s: the adapter did not move (%.2e)" % (label, moved))
    print("%s: %d AdamW steps match torch.optim.AdamW (losses %s; worst tensor %.2e)"
          % (label, cfg["steps"], ", ".join("%.5f" % x for x in ours["losses"]), worst))


def main():
    p = base_args(__doc__)
    p.add_argument("--tool", required=True, help="train_step_tool")
    p.add_argument("--demo", required=True, help="models/demo")
    args = p.parse_args()
    work = workdir_for(args, "train_step")
    check_case(args, work, "demo", args.demo,
               {"ctx": 24, "batch": 2, "grad_accum": 2, "steps": 3, "lr": 1e-3, "weight_decay": 0.01,
                "rank": 4, "alpha": 8.0, "targets": "q,k,v,o,gate,up,down", "seed": 11, "threads": 2})
    check_case(args, work, "gqa", os.path.join(args.fixtures, "hf", "gqa-safetensors-sharded"),
               {"ctx": 16, "batch": 3, "grad_accum": 1, "steps": 4, "lr": 5e-3, "weight_decay": 0.0,
                "rank": 2, "alpha": 4.0, "targets": "q,k,down", "seed": 5, "threads": 3})
    check_case(args, work, "qwen2", os.path.join(args.fixtures, "variants", "qwen2-bias"),
               {"ctx": 20, "batch": 2, "grad_accum": 1, "steps": 3, "lr": 2e-3, "weight_decay": 0.01,
                "rank": 4, "alpha": 8.0, "targets": "q,k,v,o,gate,up,down", "seed": 17, "threads": 2})


if __name__ == "__main__":
    main_wrapper("train_step", main)
