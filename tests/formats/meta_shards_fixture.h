// Meta model-parallel shard fixtures, shared by the container test (tests/formats) and the
// llama source test (tests/convert).
#pragma once

#include "formats/torch_fixture_suite.h"

namespace lmforge::testing_meta {

// Shards written by Debian's torch 1.13, each tensor cut as Meta's model-parallel layers cut
// it, plus expected.pt holding torch.cat of the pieces; the suite is skipped without torch.
constexpr const char* kGenerator = R"PY(
import sys, os, json, shutil, torch
out = sys.argv[1]
p = {"dim": 8, "n_layers": 1, "n_heads": 2, "n_kv_heads": 2, "vocab_size": -1, "multiple_of": 4, "norm_eps": 1e-5}
g = torch.Generator().manual_seed(1)
full = {"tok_embeddings.weight": torch.randn(6, 8, generator=g), "norm.weight": torch.randn(8, generator=g),
        "output.weight": torch.randn(6, 8, generator=g)}
for n, s in [("attention.wq", (8, 8)), ("attention.wk", (8, 8)), ("attention.wv", (8, 8)), ("attention.wo", (8, 8)),
             ("feed_forward.w1", (24, 8)), ("feed_forward.w2", (8, 24)), ("feed_forward.w3", (24, 8)),
             ("attention_norm", (8,)), ("ffn_norm", (8,))]:
    full["layers.0.%s.weight" % n] = torch.randn(*s, generator=g)
dim = {"attention.wq": 0, "attention.wk": 0, "attention.wv": 0, "feed_forward.w1": 0, "feed_forward.w3": 0,
       "output": 0, "attention.wo": 1, "feed_forward.w2": 1, "tok_embeddings": 1}
def kind(name):
    base = name[:-len(".weight")]
    return base.split(".", 2)[2] if base.startswith("layers.") else base
d = os.path.join(out, "meta")
os.makedirs(d)
for k in range(2):
    shard = {}
    for name, t in full.items():
        sd = dim.get(kind(name))
        shard[name] = t.clone() if sd is None else torch.chunk(t, 2, sd)[k].clone()
    torch.save(shard, os.path.join(d, "consolidated.%02d.pth" % k))
json.dump(p, open(os.path.join(d, "params.json"), "w"))
torch.save(full, os.path.join(out, "expected.pt"))
gap = os.path.join(out, "gap"); shutil.copytree(d, gap)
os.rename(os.path.join(gap, "consolidated.01.pth"), os.path.join(gap, "consolidated.03.pth"))
bad = os.path.join(out, "bad"); shutil.copytree(d, bad)
s = torch.load(os.path.join(bad, "consolidated.01.pth")); s["layers.0.feed_forward.w2.weight"] = torch.zeros(8, 4)
torch.save(s, os.path.join(bad, "consolidated.01.pth"))
lie = os.path.join(out, "lie"); shutil.copytree(d, lie)
json.dump(dict(p, dim=16, n_heads=4), open(os.path.join(lie, "params.json"), "w"))
)PY";

}  // namespace lmforge::testing_meta
