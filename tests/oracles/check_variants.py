#!/usr/bin/python3
"""The Llama 3 and Qwen2 architecture variants (fixtures' "variants": llama3-tied, qwen2-bias)
converted by lmforge and held to llama.cpp and to the float64 PyTorch reference.

Per variant folder (tools/make_fixtures.py VARIANTS):
  - `lmforge convert` to f32, f16 and q8_0 GGUF; the f32 file's metadata must be what
    llama.cpp's converter writes for it: general.architecture llama / qwen2 with keys under that
    prefix, rope_freqs.weight (head_dim / 2 F32 divisors) for llama3 scaling, no output.weight
    when tied, key_length for head_dim != hidden / heads, q/k/v biases, the vocabulary padded
    with [PADi] tokens to config.json's vocab_size, add_bos_token as tokenizer_config.json says;
  - next-token probabilities of `lmforge logits --all` (fast engine) at every position of
    PROMPTS[:3] against llama.cpp's on the same file (check_llama_probs' tolerances and top-1
    rule), and `lmforge run --temp 0 -n 16` against llama.cpp's greedy continuation up to the
    first end-of-generation token;
  - the f32 probabilities of both lmforge engines, and llama.cpp's, against the PyTorch
    reference forward of the HF folder (llama3 rope scaling, biases, tied head, head_dim);
    self-test: the reference computed without the rope scaling (llama3-tied) or without the
    biases (qwen2-bias) must be farther than the tolerance from lmforge, so the check can see
    a converter or engine that drops them;
  - chat: the model's Jinja chat template rendered by @huggingface/jinja on a few
    conversations must equal lmforge's rendering of the format it recognises in that template
    (chat_render_tool), BOS text aside (lmforge's BOS comes from the tokenizer); the GGUF keeps
    the template;
  - bad input: rope types lmforge does not implement (dynamic, yarn, longrope, unknown), a bias
    of the wrong shape, a missing bias, vocab_size smaller than the tokenizer's: `lmforge
    convert` exits 1 with one clear error line and writes nothing.
"""

import copy
import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_llama_probs import (TIE, TOL, Comparison, convert, llama_cpp,  # noqa: E402
                               lmforge_probs, lmforge_run_json)
from common import (PROMPTS, CheckFailed, base_args, check, fixture_manifest,  # noqa: E402
                    lmforge_inspect, main_wrapper, read_safetensors, run, run_node,
                    sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402
import realtok_checks  # noqa: E402

TYPES = ("f32", "f16", "q8_0")
N_PROMPTS = 3
GENERATE = 16
# float32 (lmforge, llama.cpp) against float64 on f32 weights: check_forward's lossless bound.
TOL_REFERENCE = 1e-4
# llama.cpp's end-of-generation texts that the variants' added tokens use.
EOG_TEXTS = ("<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>")

CONVERSATIONS = [
    {"messages": [{"role": "system", "content": "You are terse."},
                  {"role": "user", "content": "Hi there"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "  Be brief.\n"},
                  {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": " 4 \n"},
                  {"role": "user", "content": "And 3+3?\n\n"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "a\tb"},
                  {"role": "assistant", "content": "c"}], "add_generation_prompt": False},
]
# Qwen2's template writes a default system message when the first one is not a system turn;
# lmforge finds that literal in the template and puts it first too (chat_default_system).
NO_SYSTEM = {"messages": [{"role": "user", "content": "  Hello\n"},
                          {"role": "assistant", "content": "Hi!"},
                          {"role": "user", "content": "Bye"}], "add_generation_prompt": True}


def meta(info, key):
    v = info["metadata"].get(key)
    return None if v is None else v["value"]


def check_metadata(name, model, gguf, lmforge, folders_root):
    info = lmforge_inspect(lmforge, gguf)
    cfg = model["config"]
    arch = "qwen2" if cfg["architectures"][0] == "Qwen2ForCausalLM" else "llama"
    tensors = {t["name"]: t for t in info["tensors"]}
    check(meta(info, "general.architecture") == arch, "%s: general.architecture is %r, expected %r"
          % (name, meta(info, "general.architecture"), arch))
    check(meta(info, arch + ".embedding_length") == cfg["hidden_size"], "%s: no %s.embedding_length" % (name, arch))
    hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    if hd * cfg["num_attention_heads"] != cfg["hidden_size"]:
        check(meta(info, arch + ".attention.key_length") == hd, "%s: head_dim %d is not written as key_length" % (name, hd))
    scaling = cfg.get("rope_scaling") or {}
    if scaling.get("rope_type") == "llama3":
        t = tensors.get("rope_freqs.weight")
        check(t is not None and t["dtype"] == "F32" and t["shape"] == [hd // 2],
              "%s: rope_freqs.weight is missing or not F32 [%d]: %s" % (name, hd // 2, t))
    else:
        check("rope_freqs.weight" not in tensors, "%s: rope_freqs.weight without llama3 scaling" % name)
    check(("output.weight" in tensors) != cfg["tie_word_embeddings"], "%s: output.weight presence does not "
          "follow tie_word_embeddings" % name)
    for layer in range(cfg["num_hidden_layers"]):
        for part in ("q", "k", "v"):
            want = arch == "qwen2"
            have = "blk.%d.attn_%s.bias" % (layer, part) in tensors
            check(have == want, "%s: blk.%d.attn_%s.bias %s" % (name, layer, part, "missing" if want else "unexpected"))
    if "added_tokens" not in model:
        realtok_checks.check_vocab_metadata(name, os.path.join(folders_root, model["path"]), info, cfg)
        return info
    tokens = meta(info, "tokenizer.ggml.tokens")
    check(len(tokens) == cfg["vocab_size"], "%s: %d tokens, config.json says %d" % (name, len(tokens), cfg["vocab_size"]))
    added = {int(k): v for k, v in model["added_tokens"].items()}
    for i in range(450, cfg["vocab_size"]):
        want = added.get(i, "[PAD%d]" % i)
        check(tokens[i] == want, "%s: token %d is %r, expected %r" % (name, i, tokens[i], want))
    check(meta(info, "tokenizer.ggml.add_bos_token") == model["add_bos"], "%s: add_bos_token is %r"
          % (name, meta(info, "tokenizer.ggml.add_bos_token")))
    return info


def eog_ids(info):
    tokens = meta(info, "tokenizer.ggml.tokens")
    ids = {meta(info, "tokenizer.ggml.eos_token_id")}
    ids |= {i for i, t in enumerate(tokens) if t in EOG_TEXTS}
    return ids


def check_greedy(tag, lmforge, gguf, ids, greedy, eog):
    for i, prompt in enumerate(PROMPTS[:len(ids)]):
        got = [t["token"] for t in lmforge_run_json(lmforge, gguf, prompt, GENERATE)]
        want = greedy[i]
        ends = [k for k, t in enumerate(want) if t in eog]
        if ends:
            want = want[:ends[0]]
        check(got == want, "%s: prompt %d: lmforge run --temp 0 gives %s, llama.cpp %s" % (tag, i, got, want))


def max_dp(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def check_reference(name, folder, lmforge, gguf, ids, llama_probs):
    """lmforge's two engines and llama.cpp on the f32 file against the float64 reference."""
    ref = Llama(folder)
    wrong = Llama(folder, ignore_rope_scaling=True, ignore_biases=True)
    worst = {"ref": 0.0, "fast": 0.0, "llama.cpp": 0.0, "wrong": 1.0}
    for i, seq in enumerate(ids):
        p = ref.probs(seq).numpy()
        r = run([lmforge, "logits", "-m", gguf, "--ids", ",".join(map(str, seq)), "--all", "--reference"], timeout=300)
        z = np.array(json.loads(r.stdout)["logits"], dtype=np.float64)
        e = np.exp(z - z.max(-1, keepdims=True))
        ours_ref = e / e.sum(-1, keepdims=True)
        ours_fast = lmforge_probs(name, lmforge, gguf, seq, p.shape[1])
        worst["ref"] = max(worst["ref"], max_dp(ours_ref, p))
        worst["fast"] = max(worst["fast"], max_dp(ours_fast, p))
        worst["llama.cpp"] = max(worst["llama.cpp"], max_dp(llama_probs[i], p))
        worst["wrong"] = min(worst["wrong"], max_dp(ours_fast, wrong.probs(seq).numpy()))
    print("%s f32 vs PyTorch float64: max |dp| reference engine %.2e, fast engine %.2e, llama.cpp %.2e; "
          "self-test: the reference without %s is %.3g away"
          % (name, worst["ref"], worst["fast"], worst["llama.cpp"],
             "its biases" if "qwen2" in name else "rope scaling", worst["wrong"]), flush=True)
    for who in ("ref", "fast", "llama.cpp"):
        check(worst[who] <= TOL_REFERENCE, "%s: %s differs from the PyTorch reference by %.3g > %g"
              % (name, who, worst[who], TOL_REFERENCE))
    check(worst["wrong"] > 10 * TOL_REFERENCE, "self-test: %s: the reference without rope scaling / biases is "
          "only %.3g from lmforge: the check cannot see them" % (name, worst["wrong"]))


def check_chat(name, folder, gguf_info, chat_tool, work, adds_bos):
    with open(os.path.join(folder, "tokenizer_config.json")) as f:
        tc = json.load(f)
    template = tc["chat_template"]
    check(meta(gguf_info, "tokenizer.chat_template") == template,
          "%s: the GGUF's tokenizer.chat_template is not tokenizer_config.json's" % name)
    convs = copy.deepcopy(CONVERSATIONS) + [NO_SYSTEM]
    req = os.path.join(work, name + ".chat.json")
    with open(req, "w") as f:
        json.dump({"template": template, "bos_token": tc.get("bos_token"), "eos_token": tc.get("eos_token"),
                   "conversations": convs}, f)
    jinja = run_node("jinja_render.mjs", [req])["renderings"]
    # Llama 3's first template always ends with the assistant header (it never reads
    # add_generation_prompt); lmforge renders what the template would.
    if "add_generation_prompt" not in template:
        for c in convs:
            c["add_generation_prompt"] = True
        with open(req, "w") as f:
            json.dump({"template": template, "conversations": convs}, f)
    r = run([chat_tool, req])
    ours = json.loads(r.stdout)
    want_format = "llama3" if "llama3" in name else "chatml"
    check(ours["format"] == want_format, "%s: lmforge recognises the template as %r, expected %r"
          % (name, ours["format"], want_format))
    # lmforge's BOS comes from the tokenizer, the template's from bos_token.
    bos = tc["bos_token"] if adds_bos else ""
    for i, (j, o) in enumerate(zip(jinja, ours["renderings"])):
        check(j == bos + o, "%s: conversation %d: Jinja renders %r, lmforge %r" % (name, i, j, bos + o))
    print("%s: chat template (%s) renders %d conversations as @huggingface/jinja does"
          % (name, want_format, len(convs)), flush=True)


# ---------------------------------------------------------------------------------------------
# bad input

def write_safetensors(path, tensors):
    header, data = {}, b""
    for k, v in tensors.items():
        v = np.ascontiguousarray(v, dtype=np.float32)
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [len(data), len(data) + v.nbytes]}
        data += v.tobytes()
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def bad_folder(work, src, name, config_edit=None, tensor_edit=None):
    d = os.path.join(work, "bad", name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    if config_edit:
        p = os.path.join(d, "config.json")
        with open(p) as f:
            cfg = json.load(f)
        config_edit(cfg)
        with open(p, "w") as f:
            json.dump(cfg, f)
    if tensor_edit:
        p = os.path.join(d, "model.safetensors")
        t = {k: v.float().numpy() for k, v in read_safetensors(p)[0].items()}
        tensor_edit(t)
        write_safetensors(p, t)
    return d


def check_bad_inputs(lmforge, work, folders):
    l3, qw = folders["llama3-tied"], folders["qwen2-bias"]

    def rope(kind):
        def edit(cfg):
            cfg["rope_scaling"] = {"rope_type": kind, "factor": 4.0, "original_max_position_embeddings": 32}
        return edit

    def set_key(key, value):
        def edit(cfg):
            cfg[key] = value
        return edit

    def drop(name):
        return lambda t: t.pop(name)

    def reshape(name, n):
        def edit(t):
            t[name] = np.zeros(n, dtype=np.float32)
        return edit

    def vocab_440(cfg):
        cfg["vocab_size"] = 440
        cfg["eos_token_id"] = 2

    def sliding_on(cfg):
        cfg["use_sliding_window"] = True
        cfg["sliding_window"] = 16

    cases = [
        ("rope-dynamic", l3, rope("dynamic"), None, "rope_scaling type 'dynamic' is not supported"),
        ("rope-yarn", l3, rope("yarn"), None, "rope_scaling type 'yarn' is not supported"),
        ("rope-longrope", l3, rope("longrope"), None, "rope_scaling type 'longrope' is not supported"),
        ("rope-unknown", l3, rope("ntk-by-parts"), None, "rope_scaling type 'ntk-by-parts' is not supported"),
        ("rope-llama3-incomplete", l3, set_key("rope_scaling", {"rope_type": "llama3", "factor": 8.0}), None,
         "has no 'low_freq_factor'"),
        ("bias-wrong-shape", qw, None, reshape("model.layers.1.self_attn.k_proj.bias", 33),
         "model.layers.1.self_attn.k_proj.bias"),
        ("bias-missing", qw, None, drop("model.layers.0.self_attn.v_proj.bias"), "blk.0.attn_v.bias"),
        ("vocab-smaller", qw, vocab_440, None, "tokenizer.model has 450 pieces but config.json vocab_size is 440"),
        ("sliding-window-on", qw, sliding_on, None, "sliding-window attention is not supported"),
    ]
    for name, src, cfg_edit, t_edit, needle in cases:
        d = bad_folder(work, src, name, cfg_edit, t_edit)
        out = os.path.join(work, "bad", name + ".gguf")
        if os.path.exists(out):
            os.remove(out)
        r = run([lmforge, "convert", d, out, "--quiet"], check_rc=False, timeout=120)
        err = r.stderr.decode(errors="replace").strip()
        check(r.returncode == 1, "bad input %s: lmforge convert exited %d (want 1); stderr: %s" % (name, r.returncode, err[-500:]))
        check(needle in err, "bad input %s: the error does not say %r: %s" % (name, needle, err[-500:]))
        check(len(err.splitlines()) == 1 and err.startswith("lmforge: error:"),
              "bad input %s: not one error line: %s" % (name, err[-500:]))
        check(not os.path.exists(out), "bad input %s: an output file was left behind" % name)
        print("bad input %s: refused: %s" % (name, err), flush=True)


def check_rope_freqs_not_written_back(name, lmforge, gguf, work):
    """GGUF -> HF of a file with llama3 rope scaling: refused with one line naming rope_freqs
    (the divisors do not determine config.json's rope_scaling), nothing written."""
    out = os.path.join(work, name + "-back-to-hf")
    shutil.rmtree(out, ignore_errors=True)
    r = run([lmforge, "convert", gguf, out], check_rc=False)
    err = r.stderr.decode(errors="replace").strip().splitlines()
    check(r.returncode == 1 and len(err) == 1 and "rope_freqs" in err[0] and not os.path.exists(out),
          "%s: GGUF -> HF with rope_freqs: exit %d, %s" % (name, r.returncode, err))
    print("%s: GGUF -> HF refused: %s" % (name, err[0][-90:]), flush=True)


def main():
    ap = base_args(__doc__.splitlines()[0])
    ap.add_argument("--chat-tool", required=True, help="chat_render_tool (tests/oracles/chat_render_tool.cpp)")
    ap.add_argument("--realtok-fixtures", default=None,
                    help="tools/make_realtok_fixtures.py's directory: check its real-tokenizer folders instead")
    args = ap.parse_args()
    real = args.realtok_fixtures is not None
    work = workdir_for(args, "variants_realtok" if real else "variants")
    if real:
        root = args.realtok_fixtures
        manifest = fixture_manifest(root)
        if "skipped" in manifest:
            print("check_variants: SKIPPED: %s" % manifest["skipped"], flush=True)
            sys.exit(77)
    else:
        root = args.fixtures
        manifest = fixture_manifest(root)
        check("variants" in manifest, "the fixtures have no variants (tools/make_fixtures.py VARIANTS)")
        tokenizer = os.path.join(root, manifest["tokenizer"])
    failures = []
    folders = {}
    for model in manifest["variants"]:
        name = model["name"]
        folder = os.path.join(root, model["path"])
        folders[name] = folder
        vocab = model["config"]["vocab_size"]
        try:
            if real:
                ids = realtok_checks.prompt_ids(name, folder, PROMPTS[:N_PROMPTS], work)
                adds_bos = realtok_checks.EXPECT[name]["add_bos"]
            else:
                ids = sentencepiece_ids(tokenizer, PROMPTS[:N_PROMPTS], add_bos=model["add_bos"])
                adds_bos = model["add_bos"]
            files = {}
            for outtype in TYPES:
                files[outtype] = os.path.join(work, "%s.%s.gguf" % (name, outtype))
                convert(args.lmforge, folder, files[outtype], outtype)
            info = check_metadata(name, model, files["f32"], args.lmforge, root)
            if any(t["name"] == "rope_freqs.weight" for t in info["tensors"]):
                check_rope_freqs_not_written_back(name, args.lmforge, files["f32"], work)
            eog = eog_ids(info)
            if real:
                want_eog = set(realtok_checks.EXPECT[name]["eog"])
                check(want_eog <= eog, "%s: end-of-generation ids %s do not include generation_config.json's %s"
                      % (name, sorted(eog), sorted(want_eog)))
                check_llama_cpp_tokens(name, files["f32"], work, ids)
            for outtype in TYPES:
                tag = "%s %s" % (name, outtype)
                theirs, greedy = llama_cpp(files[outtype], work, ids, vocab)
                if real:
                    theirs = realtok_checks.renormalized(theirs)
                cmp = Comparison(TIE[outtype])
                for i in range(len(ids)):
                    cmp.add("prompt %d" % i, lmforge_probs(tag, args.lmforge, files[outtype], ids[i], vocab), theirs[i])
                print("%s vs llama.cpp: %s" % (tag, cmp.summary()), flush=True)
                cmp.verdict(tag, TOL[outtype])
                if outtype == "f32":
                    check_greedy(tag, args.lmforge, files[outtype], ids, greedy, eog)
                    check_reference(name, folder, args.lmforge, files[outtype], ids, theirs)
            check_chat(name, folder, info, args.chat_tool, work, adds_bos)
            if real:
                realtok_checks.check_tokenizer_parity(name, args.lmforge, folder, files["f32"], work)
        except CheckFailed as e:
            print("  FAIL: %s" % e, flush=True)
            failures.append(str(e))
    try:
        if real:
            realtok_checks.check_bad_tokenizers(args.lmforge, work, folders["llama3-real"])
        else:
            check_bad_inputs(args.lmforge, work, folders)
    except CheckFailed as e:
        print("  FAIL: %s" % e, flush=True)
        failures.append(str(e))
    check(not failures, "%d failure(s):\n  %s" % (len(failures), "\n  ".join(failures)))


def check_llama_cpp_tokens(name, gguf, work, ids):
    """llama.cpp's own tokenization of the prompts on our GGUF (BOS as it decides) must be the
    ids the probabilities are compared on (tokenizers.js's, BOS where expected)."""
    req = os.path.join(work, name + ".tokens.request.json")
    with open(req, "w") as f:
        json.dump({"prompts": PROMPTS[:len(ids)], "generate": 0, "probabilities": False}, f)
    out = run_node("llama_cpp.mjs", [gguf, req])
    realtok_checks.check_llama_cpp_reads_bos(name, out)
    for i, r in enumerate(out["results"]):
        check(r["tokens"] == ids[i], "%s: prompt %d: llama.cpp tokenizes our GGUF as %s, tokenizers.js (+BOS) gives %s"
              % (name, i, r["tokens"], ids[i]))
    print("%s: llama.cpp tokenizes the prompts on our GGUF as tokenizers.js does (BOS %s)"
          % (name, "added" if out["add_bos"] else "not added"), flush=True)


if __name__ == "__main__":
    main_wrapper("check_variants", main)
