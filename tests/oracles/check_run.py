#!/usr/bin/python3
"""`lmforge run` against the float64 PyTorch reference and libsentencepiece, and its misuse.

For every fixture model (HF folder -> GGUF f32 with lmforge convert):
  * greedy: `run -p PROMPT -n 12 --temp 0 --json` ids equal torch_reference.Llama(folder).greedy
    (libsentencepiece ids with BOS), up to an EOS where lmforge stops;
  * probabilities: `--probs 10 --json`: each line's "top" ids are the reference's 10 most likely
    next tokens at that step (ties within the tolerance may swap) and every probability is
    within --tol of the reference softmax (check_forward's float32-vs-float64 tolerance);
  * HF folder run directly (`-m FOLDER`, converted in memory) gives the GGUF f32 run's ids, and
    its --probs bit for bit for an f32 folder (so a folder converted to another type is caught).
On the first model: `-t 1` and `-t 2` give identical greedy ids; bad flag values (-t 0, -n -5,
-c 0, -c 99999999999, a prompt longer than the context) each exit 2 with exactly one
`lmforge: error:` line and nothing on stdout; --truncate-prompt keeps BOS + the last tokens;
-f reads the prompt (and refuses invalid UTF-8 with exit 1); a GGUF of another architecture and
one with an I32 weight fail with one error line naming the architecture / tensor and type.
Interactive: two turns piped to `run -i --chat-template chatml --system ... --verbose-prompt`;
the text and ids fed each turn must be exactly the chatml rendering (turn 2: only the new part,
after the cached reply) tokenized by libsentencepiece, and each reply the reference's greedy
continuation of everything fed so far. A folder whose tokenizer_config.json carries a
vicuna-style chat_template is recognised as vicuna. On a pseudo-terminal, Ctrl-C during a reply
returns to the "> " prompt and Ctrl-C there ends the chat (exit 0).
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PROMPTS, base_args, check, fixture_manifest, main_wrapper, run,  # noqa: E402
                    sentencepiece_ids, workdir_for)
from torch_reference import Llama  # noqa: E402

N = 12
EOS = 2  # the fixtures' SentencePiece eos id
BOS = 1


def json_lines(out):
    text = out.stdout if isinstance(out.stdout, str) else out.stdout.decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def greedy_ids(lmforge, model, prompt, extra=()):
    out = run([lmforge, "run", "-m", model, "-p", prompt, "-n", str(N), "--temp", "0", "--json"] + list(extra),
              timeout=120)
    return [j["token"] for j in json_lines(out)]


def check_greedy(name, got, want):
    if len(got) < N:  # stopped at EOS: the reference must have produced it there
        check(len(want) > len(got) and want[len(got)] == EOS,
              "%s: lmforge stopped after %d tokens, the reference continues with %r" % (name, len(got), want[len(got):]))
    check(got == want[:len(got)], "%s: lmforge %r, reference %r" % (name, got, want))


def check_probs(args, name, gguf, ref, prompt, ids, k=10, n=4):
    out = run([args.lmforge, "run", "-m", gguf, "-p", prompt, "-n", str(n), "--temp", "0", "--json",
               "--probs", str(k)], timeout=120)
    lines = json_lines(out)
    check(lines, "%s: --probs printed nothing" % name)
    context = list(ids)
    for step, j in enumerate(lines):
        top = j["top"]
        check(len(top) == k, "%s step %d: %d entries in top, expected %d" % (name, step, len(top), k))
        p_ref = ref.probs(context)[-1]
        order = sorted(range(len(p_ref)), key=lambda i: -float(p_ref[i]))
        kth = float(p_ref[order[k - 1]])
        for tid, p in top:
            check(isinstance(p, float) or isinstance(p, int), "%s: probability %r is not a number" % (name, p))
            d = abs(p - float(p_ref[tid]))
            check(d <= args.tol, "%s step %d: p(%d) = %.9g, reference %.9g (|dp| %.3g > %g)"
                  % (name, step, tid, p, float(p_ref[tid]), d, args.tol))
            check(float(p_ref[tid]) >= kth - args.tol, "%s step %d: token %d (reference p %.6g) is not among the "
                  "reference's top %d (k-th p %.6g)" % (name, step, tid, float(p_ref[tid]), k, kth))
        ps = [p for _, p in top]
        check(ps == sorted(ps, reverse=True), "%s step %d: top is not sorted by probability" % (name, step))
        check(j["token"] == int(order[0]) or abs(float(p_ref[j["token"]]) - float(p_ref[order[0]])) <= args.tol,
              "%s step %d: greedy token %d is not the reference's argmax %d" % (name, step, j["token"], order[0]))
        context.append(j["token"])
    return len(lines)


def check_folder_probs(args, name, src, gguf, prompt, exact):
    """The folder, converted in memory keeping its float type, gives the GGUF f32 file's
    probabilities: bit for bit from an f32 folder, within --tol from f16/bf16 (same values, other kernels)."""
    cmd = ["run", "-p", prompt, "-n", "4", "--temp", "0", "--json", "--probs", "5"]
    a = json_lines(run([args.lmforge] + cmd + ["-m", src]))
    b = json_lines(run([args.lmforge] + cmd + ["-m", gguf]))
    check([j["token"] for j in a] == [j["token"] for j in b], "%s: folder and GGUF tokens differ" % name)
    for ja, jb in zip(a, b):
        for (ia, pa), (ib, pb) in zip(ja["top"], jb["top"]):
            ok = (ia == ib and pa == pb) if exact else abs(pa - pb) <= args.tol
            check(ok, "%s: run -m FOLDER top %r, the GGUF f32 file %r" % (name, ja["top"], jb["top"]))


def expect_usage_error(args, cmd, what, code=2, needle=None, stdin=None):
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    errors = [line for line in err.splitlines() if line.startswith("lmforge: error:")]
    check(r.returncode == code, "%s: exit status %d, expected %d\n%s" % (what, r.returncode, code, err))
    check(len(errors) == 1, "%s: %d error lines, expected exactly 1:\n%s" % (what, len(errors), err))
    check(not r.stdout, "%s: printed %r on stdout" % (what, r.stdout[:200]))
    if needle:
        check(needle in errors[0], "%s: the error does not mention %r: %s" % (what, needle, errors[0]))
    return errors[0]


def verbose_prompts(stderr):
    """[(text, ids)] from --verbose-prompt lines."""
    texts, ids = [], []
    for line in stderr.decode().splitlines():
        if line.startswith("lmforge: prompt text: "):
            texts.append(json.loads(line[len("lmforge: prompt text: "):]))
        elif line.startswith("lmforge: prompt tokens: "):
            ids.append(json.loads(line[len("lmforge: prompt tokens: "):]))
    return list(zip(texts, ids))


def check_misuse(args, gguf, work, sp):
    lm = args.lmforge
    base = [lm, "run", "-m", gguf, "--temp", "0"]
    expect_usage_error(args, base + ["-p", "hi", "-t", "0"], "-t 0", needle="-t")
    expect_usage_error(args, base + ["-p", "hi", "-n", "-5"], "-n -5", needle="-n")
    expect_usage_error(args, base + ["-p", "hi", "-c", "0"], "-c 0", needle="-c")
    expect_usage_error(args, base + ["-p", "hi", "-c", "99999999999"], "-c 99999999999", needle="-c")
    expect_usage_error(args, base + ["-p", "hi", "--probs", "451", "--json"], "--probs 451", needle="--probs")
    expect_usage_error(args, base + ["-i", "--chat-template", "zephyr"], "--chat-template zephyr", needle="chatml", stdin=b"")
    long_prompt = " ".join(PROMPTS)
    n_long = len(sp.encode(long_prompt)) + 1
    msg = expect_usage_error(args, base + ["-p", long_prompt, "-c", "16"], "prompt longer than -c 16")
    check(str(n_long) in msg and "16" in msg, "the too-long-prompt error does not give the counts: " + msg)
    r = run(base + ["-p", long_prompt, "-c", "16", "-n", "1", "--truncate-prompt", "--verbose-prompt", "--json"])
    fed = verbose_prompts(r.stderr)
    want = [BOS] + sp.encode(long_prompt)[-14:]
    check(fed and fed[0][1] == want, "--truncate-prompt fed %r, expected BOS + the last 14 ids %r" % (fed and fed[0][1], want))
    check(("dropped the first %d" % (n_long - 15)) in r.stderr.decode(), "--truncate-prompt does not say how many "
          "tokens it dropped:\n" + r.stderr.decode())
    # -f: the same ids as -p; invalid UTF-8 refused (a file problem: exit 1).
    pf = os.path.join(work, "prompt.txt")
    with open(pf, "w") as f:
        f.write(PROMPTS[3])
    check(greedy_ids(lm, gguf, PROMPTS[3]) == [j["token"] for j in json_lines(
        run([lm, "run", "-m", gguf, "-f", pf, "-n", str(N), "--temp", "0", "--json"]))], "-f and -p disagree")
    bad = os.path.join(work, "bad.txt")
    with open(bad, "wb") as f:
        f.write(b"abc\xff\xfe")
    expect_usage_error(args, [lm, "run", "-m", gguf, "-f", bad], "-f invalid UTF-8", code=1, needle="UTF-8")
    # GGUF files lmforge cannot run: another architecture; a tensor of a type the kernels lack
    # (F32 relabelled I32: same size, so only the model loader can object).
    with open(gguf, "rb") as f:
        data = f.read()
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4 + 8
    check(data[at:at + 5] == b"llama", "unexpected GGUF layout around general.architecture")
    other = os.path.join(work, "other-arch.gguf")
    with open(other, "wb") as f:
        f.write(data[:at] + b"qwen2" + data[at + 5:])
    expect_usage_error(args, [lm, "run", "-m", other, "-p", "hi"], "architecture qwen2", code=1, needle="qwen2")
    name = b"blk.0.attn_q.weight"
    at = data.index(name) + len(name) + 4 + 2 * 8
    check(data[at:at + 4] == b"\0\0\0\0", "blk.0.attn_q.weight is not F32 in %s" % gguf)
    i32 = os.path.join(work, "i32-tensor.gguf")
    with open(i32, "wb") as f:
        f.write(data[:at] + bytes([26, 0, 0, 0]) + data[at + 4:])
    msg = expect_usage_error(args, [lm, "run", "-m", i32, "-p", "hi"], "I32 tensor", code=1, needle="blk.0.attn_q.weight")
    check("I32" in msg, "the unsupported-type error does not name the type: " + msg)
    print("%-28s misuse refused with one error line each; --truncate-prompt and -f work" % "", flush=True)


def check_chat(args, name, src, gguf, ref, sp, work):
    system, turns, n = "You are terse.", ["hello there", "and a second question"], 3
    r = subprocess.run([args.lmforge, "run", "-m", gguf, "-i", "--chat-template", "chatml", "--system", system,
                        "-n", str(n), "--temp", "0", "--verbose-prompt"],
                       input=("\n".join(turns) + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    check(r.returncode == 0, "%s -i: exit %d\n%s" % (name, r.returncode, r.stderr.decode()[-2000:]))
    fed = verbose_prompts(r.stderr)
    check(len(fed) == 2, "%s -i: %d turns fed, expected 2:\n%s" % (name, len(fed), r.stderr.decode()[-2000:]))
    want_text = ["<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n"
                 % (system, turns[0]),
                 "<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n" % turns[1]]
    context = []
    replies = [json.loads(line[len("lmforge: reply tokens: "):]) for line in r.stderr.decode().splitlines()
               if line.startswith("lmforge: reply tokens: ")]
    check(len(replies) == 2, "%s -i: %d replies, expected 2" % (name, len(replies)))
    check(r.stdout.decode().count("\n") >= 2, "%s -i: the replies were not printed" % name)
    for t, ((text, ids), want) in enumerate(zip(fed, want_text)):
        check(text == want, "%s -i turn %d fed text %r, expected %r" % (name, t + 1, text, want))
        want_ids = ([BOS] if t == 0 else []) + sp.encode(want)
        check(ids == want_ids, "%s -i turn %d fed ids %r, libsentencepiece %r" % (name, t + 1, ids, want_ids))
        context += ids
        reply = ref.greedy(context, n)
        if EOS in reply:
            reply = reply[:reply.index(EOS)]
        check(replies[t] == reply, "%s -i turn %d replied %r, the reference %r" % (name, t + 1, replies[t], reply))
        context += reply
    # Recognition of the model's own template (an HF folder run directly).
    folder = os.path.join(work, name + "-vicuna")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(src, folder)
    cfg_path = os.path.join(folder, "tokenizer_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["chat_template"] = ("{% for m in messages %}{% if m['role'] == 'user' %}{{ 'USER: ' + m['content'] + '\\n' }}"
                            "{% else %}{{ 'ASSISTANT: ' + m['content'] + eos_token + '\\n' }}{% endif %}{% endfor %}")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([args.lmforge, "run", "-m", folder, "-i", "-n", "2", "--temp", "0", "--verbose-prompt"],
                       input=b"hi\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    check(r.returncode == 0, "%s -i vicuna: exit %d\n%s" % (name, r.returncode, r.stderr.decode()[-2000:]))
    fed = verbose_prompts(r.stderr)
    check("chat template: vicuna" in r.stderr.decode() and fed and fed[0][0] == "USER: hi\nASSISTANT:",
          "%s: the vicuna template was not recognised from tokenizer_config.json:\n%s" % (name, r.stderr.decode()))
    print("%-28s chat: 2 turns fed exactly the chatml rendering, replies = reference; vicuna recognised" % name,
          flush=True)


def check_interrupt(args, gguf):
    """On a terminal: "> " prompts; Ctrl-C during an endless reply (--ignore-eos -n -1) returns to
    the prompt; Ctrl-C at the prompt ends the chat with the timing summary and exit status 0."""
    import pty
    import select
    import time
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args.lmforge, [args.lmforge, "run", "-m", gguf, "-i", "-n", "-1", "--ignore-eos", "-c", "4096",
                                "--temp", "0", "--chat-template", "chatml"])
    seen = [b""]

    def read_until(pred, timeout=60):
        start, end = len(seen[0]), time.time() + timeout
        while time.time() < end and not pred(seen[0][start:]):
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen[0] += chunk
        return seen[0][start:]

    try:
        check(read_until(lambda b: b.endswith(b"> ")).endswith(b"> "), "-i on a terminal printed no '> ' prompt")
        os.write(fd, b"hello\n")
        check(len(read_until(lambda b: len(b) > 40)) > 40, "-i --ignore-eos produced no reply")
        os.write(fd, b"\x03")
        check(read_until(lambda b: b.endswith(b"> ")).endswith(b"> "),
              "Ctrl-C during a reply did not return to the prompt:\n%r" % seen[0][-300:])
        os.write(fd, b"\x03")
        tail = read_until(lambda b: False, timeout=20)
        check(b"lmforge: load time" in tail, "Ctrl-C at the prompt did not end the chat:\n%r" % tail[-300:])
    finally:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "-i after Ctrl-C: status %r" % status)
    print("%-28s Ctrl-C ends a reply, then the chat (on a terminal)" % "", flush=True)


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-4, help="max |dp| for --probs (check_forward's)")
    args = ap.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    work = workdir_for(args, "run")
    manifest = fixture_manifest(fixtures)
    tokenizer = os.path.join(fixtures, manifest["tokenizer"])
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
    prompts = PROMPTS[:3]
    sp_ids = sentencepiece_ids(tokenizer, prompts)
    for i, model in enumerate(manifest["models"]):
        name = model["name"]
        src = os.path.join(fixtures, model["path"])
        gguf = os.path.join(work, name + ".f32.gguf")
        run([args.lmforge, "convert", src, gguf, "--outtype", "f32", "--force", "-q"], timeout=120)
        ref = Llama(src)
        for prompt, ids in zip(prompts, sp_ids):
            got = greedy_ids(args.lmforge, gguf, prompt)
            check_greedy("%s %r" % (name, prompt), got, ref.greedy(ids, N))
            if prompt == prompts[0]:
                direct = greedy_ids(args.lmforge, src, prompt)
                check(direct == got, "%s: run -m FOLDER gave %r, the GGUF f32 file %r" % (name, direct, got))
                check_folder_probs(args, name, src, gguf, prompt, exact=model["dtype"] == "f32")
        steps = check_probs(args, name, gguf, ref, prompts[1], sp_ids[1])
        print("%-28s greedy = reference for %d prompts; --probs 10 within %g for %d steps; folder = GGUF"
              % (name, len(prompts), args.tol, steps), flush=True)
        if i == 0:
            one = greedy_ids(args.lmforge, gguf, prompts[0], ["-t", "1"])
            two = greedy_ids(args.lmforge, gguf, prompts[0], ["-t", "2"])
            check(one == two, "-t 1 gave %r, -t 2 gave %r" % (one, two))
            check_misuse(args, gguf, work, sp)
            check_chat(args, name, src, gguf, ref, sp, work)
            check_interrupt(args, gguf)


if __name__ == "__main__":
    main_wrapper("check_run", main)
