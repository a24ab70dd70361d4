"""An independent float64 BertModel forward pass and sentence-transformers pooling, written from
the published architecture (Devlin et al.; Hugging Face's BertModel module layout), with plain
torch operations: no transformers, no lmforge code.

    x = LayerNorm(word[ids] + position[0..n) + token_type[0])
    per layer (post-LN):
        a = softmax((x Wq^T + bq)(x Wk^T + bk)^T / sqrt(head_dim), over keys) (x Wv^T + bv), per head
        x = LayerNorm(x + a Wo^T + bo)
        x = LayerNorm(x + gelu_erf(x Wup^T + bup) Wdown^T + bdown)

Texts of a batch are padded to the longest and masked as transformers does (attention_mask 0
for padding: -inf-like bias on those keys), so the batched path is exercised here too.
"""

import math

import torch


class BertReference:
    def __init__(self, state_dict, config):
        self.c = config
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in state_dict else ""
        self.w = {k[len(prefix):]: v.to(torch.float64) for k, v in state_dict.items() if k.startswith(prefix)}

    def _ln(self, x, name):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"],
                                              eps=self.c.get("layer_norm_eps", 1e-12))

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def hidden_states(self, batch_ids):
        """Last hidden states, a list of [len_i, hidden] float64 tensors (padding dropped)."""
        c = self.c
        n = max(len(s) for s in batch_ids)
        B = len(batch_ids)
        ids = torch.zeros(B, n, dtype=torch.long)
        mask = torch.zeros(B, n, dtype=torch.float64)
        for i, s in enumerate(batch_ids):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        h = c["hidden_size"]
        nh = c["num_attention_heads"]
        hd = h // nh
        x = (self.w["embeddings.word_embeddings.weight"][ids]
             + self.w["embeddings.position_embeddings.weight"][torch.arange(n)][None]
             + self.w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float64).min
        for l in range(c["num_hidden_layers"]):
            p = "encoder.layer.%d." % l

            def heads(t):
                return t.view(B, n, nh, hd).transpose(1, 2)
            q = heads(self._lin(x, p + "attention.self.query"))
            k = heads(self._lin(x, p + "attention.self.key"))
            v = heads(self._lin(x, p + "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
            a = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, n, h)
            x = self._ln(x + self._lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            u = self._lin(x, p + "intermediate.dense")
            u = 0.5 * u * (1.0 + torch.erf(u / math.sqrt(2.0)))
            x = self._ln(x + self._lin(u, p + "output.dense"), p + "output.LayerNorm")
        return [x[i, :len(s)] for i, s in enumerate(batch_ids)]


def pool(hidden, mode, normalize):
    """sentence-transformers pooling of one text's [len, hidden] states; None keeps every row."""
    if mode == "mean":
        v = hidden.mean(dim=0)
    elif mode == "cls":
        v = hidden[0]
    elif mode == "last":
        v = hidden[-1]
    else:
        v = hidden
    if normalize:
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return v
