#!/usr/bin/python3
"""Float64 forward pass of a Hugging Face LLaMA folder, written from the LlamaForCausalLM
definition (transformers' modeling_llama, and modeling_qwen2 for Qwen2ForCausalLM, whose q/k/v
projections add a bias before RoPE): token embedding; per layer RMSNorm, attention with
rotate_half RoPE (rope_theta, linear scaling divides positions by the factor, "llama3" scaling
rescales each inverse frequency as transformers' _compute_llama3_parameters does), grouped KV heads
repeated to match the query heads, causal softmax, output projection, residual; RMSNorm, SwiGLU
MLP down(silu(gate(x)) * up(x)), residual; final RMSNorm and the LM head (tied to the embedding
when there is no lm_head.weight).

Optionally (act_round) the input of chosen weight matrices is rounded first, the way llama.cpp's
CPU matmuls round activations for the weight's storage type before the dot products: "q8_0"
(blocks of 32 along the row: d = amax/127, q = round(x/d) halves away from zero, value q*fp16(d);
llama.cpp uses this for Q8_0 and Q4_0 weights), "bf16" or "f16" (round to nearest even). Everything
else stays float64. The default is none: the plain float64 model.

Usage: torch_reference.py MODEL_DIR --ids 1,15,27 [--ids ...] [--generate N]
Prints JSON: [{"ids": [...], "probs": [[p_0 .. p_V-1] for every position], "greedy": [...]}].
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_hf_config, load_hf_state_dict  # noqa: E402


def round_q8_0(x):
    """x rounded to Q8_0 blocks of 32 along the last dimension, back in float64."""
    k = x.shape[-1]
    if k % 32:
        raise SystemExit("torch_reference: a row of %d cannot be cut into 32-blocks" % k)
    b = x.reshape(*x.shape[:-1], k // 32, 32)
    d = b.abs().amax(-1, keepdim=True) / 127.0
    inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    v = b * inv
    q = torch.sign(v) * torch.floor(v.abs() + 0.5)    # halves away from zero, like roundf
    return (q * d.to(torch.float16).to(torch.float64)).reshape(x.shape)


ACT_ROUND = {"q8_0": round_q8_0,
             "bf16": lambda x: x.to(torch.bfloat16).to(torch.float64),
             "f16": lambda x: x.to(torch.float16).to(torch.float64)}


class Llama:
    def __init__(self, folder, act_round=None, ignore_rope_scaling=False, ignore_biases=False):
        """act_round: {weight name: "q8_0" | "bf16" | "f16"}; the LM head is "lm_head.weight"
        even when it is tied to the embedding. ignore_rope_scaling / ignore_biases compute a
        deliberately wrong model, for self-tests that show a check can see them."""
        cfg = load_hf_config(folder)
        sd = load_hf_state_dict(folder)
        self.w = {k: v.to(torch.float64) for k, v in sd.items()}
        self.act_round = {}
        for name, kind in (act_round or {}).items():
            if kind not in ACT_ROUND:
                raise SystemExit("torch_reference: unknown activation rounding %r" % kind)
            self.act_round[name] = ACT_ROUND[kind]
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_heads
        self.hidden = cfg["hidden_size"]
        self.head_dim = cfg.get("head_dim") or self.hidden // self.n_heads
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        scaling = cfg.get("rope_scaling") or {}
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind not in (None, "linear", "default", "llama3"):
            raise SystemExit("torch_reference: rope scaling %r is not implemented" % kind)
        if ignore_rope_scaling:
            kind = None
        self.pos_scale = float(scaling.get("factor", 1.0)) if kind == "linear" else 1.0
        self.llama3 = scaling if kind == "llama3" else None
        self.use_bias = not ignore_biases
        if "lm_head.weight" in self.w:
            self.head = self.w["lm_head.weight"]
        else:
            self.head = self.w["model.embed_tokens.weight"]  # tied embeddings

    def linear(self, x, name, weight=None):
        """x @ W.T (+ its bias when the folder has one), with x rounded first when act_round
        names W."""
        if name in self.act_round:
            x = self.act_round[name](x)
        y = x @ (self.w[name] if weight is None else weight).T
        bias = name[:-len("weight")] + "bias"
        if self.use_bias and weight is None and bias in self.w:
            y = y + self.w[bias]
        return y

    def inv_freq(self):
        hd = self.head_dim
        inv = 1.0 / (self.theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        if self.llama3 is None:
            return inv
        # transformers' _compute_llama3_parameters: long wavelengths divided by the factor,
        # short ones kept, a smooth blend between.
        s = self.llama3
        factor, lo, hi = float(s["factor"]), float(s["low_freq_factor"]), float(s["high_freq_factor"])
        old = float(s["original_max_position_embeddings"])
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        return torch.where(medium, smoothed, scaled)

    def rms_norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def rope(self, t):
        inv_freq = self.inv_freq()
        pos = torch.arange(t, dtype=torch.float64) / self.pos_scale
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)          # [T, hd]
        return emb.cos()[None], emb.sin()[None]           # broadcast over heads

    def logits(self, ids):
        w, T, hd = self.w, len(ids), self.head_dim
        x = w["model.embed_tokens.weight"][torch.tensor(ids)]
        cos, sin = self.rope(T)
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            h = self.rms_norm(x, w[p + "input_layernorm.weight"])
            q = self.linear(h, p + "self_attn.q_proj.weight")
            q = q.view(T, self.n_heads, hd).transpose(0, 1)
            k = self.linear(h, p + "self_attn.k_proj.weight")
            k = k.view(T, self.n_kv, hd).transpose(0, 1)
            v = self.linear(h, p + "self_attn.v_proj.weight")
            v = v.view(T, self.n_kv, hd).transpose(0, 1)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            rep = self.n_heads // self.n_kv                # query head j reads kv head j // rep
            k = k.repeat_interleave(rep, dim=0)
            v = v.repeat_interleave(rep, dim=0)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1)
            o = (att @ v).transpose(0, 1).reshape(T, self.n_heads * hd)
            x = x + self.linear(o, p + "self_attn.o_proj.weight")
            h = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
            gate = self.linear(h, p + "mlp.gate_proj.weight")
            up = self.linear(h, p + "mlp.up_proj.weight")
            x = x + self.linear(torch.nn.functional.silu(gate) * up, p + "mlp.down_proj.weight")
        x = self.rms_norm(x, w["model.norm.weight"])
        return self.linear(x, "lm_head.weight", self.head)  # [T, V]

    def probs(self, ids):
        return torch.softmax(self.logits(ids), dim=-1)

    def greedy(self, ids, n):
        ids = list(ids)
        out = []
        for _ in range(n):
            nxt = int(torch.argmax(self.logits(ids)[-1]))
            out.append(nxt)
            ids.append(nxt)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--ids", action="append", required=True, help="comma-separated token ids")
    ap.add_argument("--generate", type=int, default=16)
    a = ap.parse_args()
    m = Llama(a.model_dir)
    res = []
    for s in a.ids:
        ids = [int(x) for x in s.split(",") if x]
        res.append({"ids": ids, "probs": m.probs(ids).tolist(), "greedy": m.greedy(ids, a.generate)})
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
