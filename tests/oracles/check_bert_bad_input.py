#!/usr/bin/python3
"""Bad BERT input for `lmforge embed` / `tokenize`: every case exits 1 (2 for usage mistakes)
with exactly one `lmforge: error:` line on stderr that names the problem, and prints nothing on
stdout. The cases are copies of the bert-st fixture with one thing broken (config keys, shapes,
missing tensors and files, sentence-transformers modules), a text over the model's 64
positions (refused, then embedded with --truncate), and files that are no embedding model.
"""

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from common import CheckFailed, check, main_wrapper, read_safetensors, run  # noqa: E402
from make_fixtures import safetensors_bytes  # noqa: E402


def edit_json(path, fn):
    with open(path) as f:
        obj = json.load(f)
    fn(obj)
    with open(path, "w") as f:
        json.dump(obj, f)


def drop_tensor(folder, name):
    p = os.path.join(folder, "model.safetensors")
    sd, _ = read_safetensors(p)
    del sd[name]
    with open(p, "wb") as f:
        f.write(safetensors_bytes(sd))


def reshape_tensor(folder, name, rows):
    p = os.path.join(folder, "model.safetensors")
    sd, _ = read_safetensors(p)
    sd[name] = sd[name][:rows].clone()
    with open(p, "wb") as f:
        f.write(safetensors_bytes(sd))


CASES = [
    # name, breaker(folder), expected substring of the error
    ("hidden-act", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(hidden_act="gelu_new")),
     "'hidden_act' = \"gelu_new\" is not supported"),
    ("relative-positions", lambda d: edit_json(os.path.join(d, "config.json"),
                                               lambda c: c.update(position_embedding_type="relative_key")),
     "position_embedding_type"),
    ("decoder", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(is_decoder=True)), "is_decoder"),
    ("no-hidden-size", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.pop("hidden_size")),
     "missing 'hidden_size'"),
    ("heads-not-dividing", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(num_attention_heads=5)),
     "not a multiple of 'num_attention_heads'"),
    ("huge-layers", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(num_hidden_layers=10 ** 9)),
     "'num_hidden_layers'"),
    ("negative-eps", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(layer_norm_eps=-1)),
     "'layer_norm_eps'"),
    ("ff-mismatch", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(intermediate_size=96)),
     "has shape [128, 64] but the config needs [96, 64]"),
    ("more-layers", lambda d: edit_json(os.path.join(d, "config.json"), lambda c: c.update(num_hidden_layers=3)),
     "missing tensor 'encoder.layer.2."),
    ("missing-tensor", lambda d: drop_tensor(d, "encoder.layer.1.output.LayerNorm.bias"),
     "missing tensor 'encoder.layer.1.output.LayerNorm.bias'"),
    ("short-positions", lambda d: reshape_tensor(d, "embeddings.position_embeddings.weight", 32),
     "embeddings.position_embeddings.weight"),
    ("no-weights", lambda d: os.remove(os.path.join(d, "model.safetensors")), "weights"),
    ("no-vocab", lambda d: os.remove(os.path.join(d, "vocab.txt")), "vocab"),
    ("dense-module", lambda d: edit_json(os.path.join(d, "modules.json"), lambda m: m.append(
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})), "Dense"),
    ("max-pooling", lambda d: edit_json(os.path.join(d, "1_Pooling", "config.json"),
                                        lambda c: c.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)),
     "pooling_mode_max_tokens is not supported"),
    ("two-poolings", lambda d: edit_json(os.path.join(d, "1_Pooling", "config.json"),
                                         lambda c: c.update(pooling_mode_cls_token=True)), "exactly one of"),
    ("pooling-dim", lambda d: edit_json(os.path.join(d, "1_Pooling", "config.json"),
                                        lambda c: c.update(word_embedding_dimension=384)), "word_embedding_dimension"),
    ("module-escapes", lambda d: edit_json(os.path.join(d, "modules.json"),
                                           lambda m: m[1].update(path="../../etc")), "not a folder name inside"),
    ("modules-not-list", lambda d: open(os.path.join(d, "modules.json"), "w").write("{}"), "must be a list"),
    ("pooling-config-missing", lambda d: os.remove(os.path.join(d, "1_Pooling", "config.json")),
     "Pooling module's config.json is missing"),
]


def expect_error(cmd, substring, code=1, label=""):
    r = run(cmd, check_rc=False)
    err = r.stderr.decode(errors="replace")
    lines = err.splitlines()
    check(r.returncode == code, "%s: exit %d (expected %d); stderr: %s" % (label, r.returncode, code, err[-500:]))
    check(len(lines) == 1 and lines[0].startswith("lmforge: error:"),
          "%s: expected one 'lmforge: error:' line, got:\n%s" % (label, err[-1000:]))
    check(substring in lines[0], "%s: error does not say %r: %s" % (label, substring, lines[0]))
    check(r.stdout == b"", "%s: printed on stdout: %r" % (label, r.stdout[:200]))
    print("  %-24s %s" % (label, lines[0][:150]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lmforge", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    good = os.path.join(args.fixtures, "bert-st")

    def body():
        for name, breaker, expected in CASES:
            d = os.path.join(args.workdir, name)
            shutil.copytree(good, d)
            breaker(d)
            expect_error([args.lmforge, "embed", "-m", d, "-p", "hello world"], expected, label=name)
        # Over-long text: refused with the count and the limit, embedded with --truncate.
        long_text = " ".join(["hello world"] * 40)
        expect_error([args.lmforge, "embed", "-m", good, "-p", long_text],
                     "the prompt has 82 tokens; the model takes at most 64", label="too-long")
        r = run([args.lmforge, "embed", "-m", good, "-p", long_text, "--truncate", "--json"])
        check(len(json.loads(r.stdout)["embeddings"]) == 1, "--truncate gave no embedding")
        lines_file = os.path.join(args.workdir, "lines.txt")
        with open(lines_file, "w") as f:
            f.write("short\n" + long_text + "\n")
        expect_error([args.lmforge, "embed", "-m", good, "-f", lines_file, "--lines"],
                     "lines.txt line 2 has 82 tokens", label="too-long-line")
        expect_error([args.lmforge, "tokenize", "-m", good, "-p", "hi", "--no-bos"], "--no-bos", code=2,
                     label="tokenize-no-bos")
        expect_error([args.lmforge, "embed", "-m", good, "-p", "hi", "--pooling", "max"], "--pooling", code=2,
                     label="bad-pooling")
        # Not embedding models at all.
        junk = os.path.join(args.workdir, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"hello, world\n" * 10)
        expect_error([args.lmforge, "embed", "-m", junk, "-p", "hi"], "junk.bin", label="not-a-model")
        other = os.path.join(args.workdir, "gpt2")
        shutil.copytree(good, other)
        edit_json(os.path.join(other, "config.json"), lambda c: c.update(model_type="gpt2", architectures=["GPT2Model"]))
        expect_error([args.lmforge, "embed", "-m", other, "-p", "hi"], "GPT2Model", label="other-architecture")

    main_wrapper("check_bert_bad_input", body)


if __name__ == "__main__":
    main()
