#!/usr/bin/python3
"""Training checkpoints (.ckpt / .pt) against PyTorch: what `inspect` says is inside, and what
`convert X.safetensors` keeps.

A small network is trained for a few Adam steps with torch, so the optimizer holds real state
(exp_avg, exp_avg_sq and step per parameter). It is saved with torch.save as:
  lightning   PyTorch Lightning's layout (CheckpointConnector.dump_checkpoint): epoch,
              global_step, pytorch-lightning_version, state_dict with the LightningModule's
              attribute prefix "model.", optimizer_states, lr_schedulers, loops, callbacks,
              hparams_name, hyper_parameters;
  plain       {"model": state_dict of a DDP + torch.compile wrapped module ("module._orig_mod."),
              "optimizer": ..., "epoch": .., "step": ..}, in torch's legacy (non-zip) format;
  ddp         a bare state_dict with "module." on every name;
  hf          a bare state_dict whose "model." is part of the names (a Hugging Face .bin): not a
              training checkpoint, nothing stripped.
For each: `inspect --json` counts (kind, weights, parameters, optimizer moments and parameters
with state, counters, hyper-parameters) are compared with what torch built, and the safetensors
`convert` writes holds exactly the stripped weight names with values equal to torch's.
"""

import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (base_args, check, lmforge_inspect, main_wrapper, read_safetensors,  # noqa: E402
                    run, workdir_for)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        self.block = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 8))
        self.norm = torch.nn.LayerNorm(8)
        self.head = torch.nn.Linear(8, 20, bias=False)
        self.register_buffer("scale", torch.tensor([0.5, 2.0]))

    def forward(self, ids):
        return self.head(self.norm(self.block(self.embed(ids)))) * self.scale[0]


def trained():
    torch.manual_seed(11)
    m = Tiny()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(3):
        ids = torch.randint(0, 20, (4, 5))
        loss = torch.nn.functional.cross_entropy(m(ids).reshape(-1, 20), ids.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m, opt


def prefixed(sd, prefix):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


def expect_convert(lmforge, tag, path, work, want):
    dst = os.path.join(work, tag + ".safetensors")
    if os.path.exists(dst):
        os.remove(dst)
    run([lmforge, "convert", path, dst, "-q"])
    got, _ = read_safetensors(dst)
    check(set(got) == set(want), "%s: safetensors names differ: extra %s, missing %s"
          % (tag, sorted(set(got) - set(want)), sorted(set(want) - set(got))))
    for k, v in want.items():
        check(got[k].dtype == v.dtype and got[k].shape == v.shape and torch.equal(got[k], v),
              "%s: %s differs from torch's value" % (tag, k))
    print("  %s: convert -> safetensors holds exactly the %d weights, values equal" % (tag, len(want)), flush=True)


def expect_inspect(lmforge, tag, path, sd, opt_sd, kind, root, stripped, counters):
    info = lmforge_inspect(lmforge, path)
    tc = info.get("training_checkpoint")
    check(tc is not None, "%s: inspect --json has no training_checkpoint" % tag)
    check(tc["kind"] == kind, "%s: kind %r, expected %r" % (tag, tc["kind"], kind))
    w = tc["weights"]
    n_params = sum(v.numel() for v in sd.values())
    check(w["root"] == root and w["prefix_stripped"] == stripped,
          "%s: weights root %r prefix %r, expected %r %r" % (tag, w["root"], w["prefix_stripped"], root, stripped))
    check(w["tensors"] == len(sd) and w["parameters"] == n_params,
          "%s: %d weight tensors / %d parameters, torch has %d / %d" % (tag, w["tensors"], w["parameters"], len(sd), n_params))
    if opt_sd is not None:
        o = tc.get("optimizer")
        check(o is not None, "%s: no optimizer section" % tag)
        state = opt_sd["state"]
        moments = collections.Counter(k for s in state.values() for k in s)
        check(o["parameters_with_state"] == len(state), "%s: %d parameters with state, torch has %d"
              % (tag, o["parameters_with_state"], len(state)))
        check(dict(o["moments"]) == dict(moments), "%s: moments %s, torch has %s" % (tag, o["moments"], dict(moments)))
        elems = sum(t.numel() for s in state.values() for t in s.values() if torch.is_tensor(t))
        check(o["elements"] == elems, "%s: %d optimizer elements, torch has %d" % (tag, o["elements"], elems))
        lrs = [g for g in o["param_groups"] if "lr" in g]
        check(len(lrs) == 1 and abs(lrs[0]["lr"] - 1e-3) < 1e-12, "%s: param_groups lr %s" % (tag, o["param_groups"]))
    check(tc["counters"] == counters, "%s: counters %s, expected %s" % (tag, tc["counters"], counters))
    print("  %s: inspect: kind %s, %d weights (%d parameters), prefix %r stripped%s, counters %s"
          % (tag, kind, len(sd), n_params, stripped,
             "" if opt_sd is None else ", optimizer moments %s" % dict(tc["optimizer"]["moments"]), counters), flush=True)
    return tc


def main():
    args = base_args(__doc__.splitlines()[0]).parse_args()
    work = workdir_for(args, "training_ckpt")
    model, opt = trained()
    sd = model.state_dict()
    opt_sd = opt.state_dict()

    # Lightning
    path = os.path.join(work, "lightning.ckpt")
    torch.save({"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.1.0",
                "state_dict": prefixed(sd, "model."),
                "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4}}}},
                "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.25),
                                                                         "best_model_path": "/tmp/x.ckpt"}},
                "optimizer_states": [opt_sd],
                "lr_schedulers": [{"last_epoch": 3, "_step_count": 4, "base_lrs": [1e-3]}],
                "hparams_name": "kwargs", "hyper_parameters": {"lr": 1e-3, "hidden": 16, "name": "tiny"}}, path)
    tc = expect_inspect(args.lmforge, "lightning", path, sd, opt_sd, "lightning", "state_dict", "model.",
                        {"epoch": 3, "global_step": 120})
    check(tc.get("hyper_parameters", {}).get("hidden") == 16 and tc["hyper_parameters"].get("name") == "tiny",
          "lightning: hyper_parameters %s" % tc.get("hyper_parameters"))
    check("callbacks" in tc["dropped_on_convert"] and "optimizer_states" in tc["dropped_on_convert"],
          "lightning: dropped_on_convert %s" % tc["dropped_on_convert"])
    expect_convert(args.lmforge, "lightning", path, work, sd)

    # plain dict, DDP + torch.compile prefixes, legacy serialization
    path = os.path.join(work, "plain.pt")
    torch.save({"model": prefixed(sd, "module._orig_mod."), "optimizer": opt_sd, "epoch": 7, "step": 900}, path,
               _use_new_zipfile_serialization=False)
    expect_inspect(args.lmforge, "plain", path, sd, opt_sd, "model+optimizer", "model", "module._orig_mod.",
                   {"epoch": 7, "step": 900})
    expect_convert(args.lmforge, "plain", path, work, sd)

    # bare state_dict saved from a DDP module
    path = os.path.join(work, "ddp.pt")
    torch.save(prefixed(sd, "module."), path)
    expect_inspect(args.lmforge, "ddp", path, sd, None, "state_dict", "", "module.", {})
    expect_convert(args.lmforge, "ddp", path, work, sd)

    # a Hugging Face style state_dict: "model." belongs to the names; nothing is a wrapper
    path = os.path.join(work, "hf.bin")
    hf = prefixed({k: v for k, v in sd.items() if k != "head.weight"}, "model.")
    hf["lm_head.weight"] = sd["head.weight"]
    torch.save(hf, path)
    info = lmforge_inspect(args.lmforge, path)
    check("training_checkpoint" not in info, "hf: seen as a training checkpoint: %s" % info.get("training_checkpoint"))
    expect_convert(args.lmforge, "hf", path, work, hf)


if __name__ == "__main__":
    main_wrapper("check_training_ckpt", main)
