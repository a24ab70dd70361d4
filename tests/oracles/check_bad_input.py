#!/usr/bin/python3
"""Every hostile or broken fixture in bad/manifest.json is refused cleanly.

For each entry, `lmforge inspect FILE`, `lmforge inspect FILE --json` and
`lmforge convert SRC OUT` (SRC is FILE, or for a bare safetensors file the HF folder holding it
as model.safetensors; OUT named by the entry's convert_out: .safetensors for PyTorch inputs,
.gguf for HF folders, a folder for GGUF inputs) must (inspect may exit 0 for entries marked
inspect_may_succeed: well-formed files whose contents only make conversion impossible):
  - exit with status 1 (not 0, not 2, not killed by a signal) within --timeout seconds (10);
  - write exactly one line to stderr, starting with `lmforge: error: `, free of control
    characters (names read from the file must be escaped);
  - leave nothing behind: OUT does not exist and the directory it would go in stays empty
    (no temp files);
  - run nothing: the hostile pickles would create /tmp/lmforge_pwned.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CheckFailed, base_args, check, main_wrapper, workdir_for  # noqa: E402

PWNED = "/tmp/lmforge_pwned"
PREFIX = "lmforge: error: "


def run_refused(cmd, timeout, what, may_succeed=False):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CheckFailed("%s: still running after %g s" % (what, timeout))
    err = r.stderr.decode("utf-8", errors="replace")
    check(r.returncode >= 0, "%s: killed by signal %d; stderr: %s" % (what, -r.returncode, err[-500:]))
    if may_succeed and r.returncode == 0:
        return "(accepted)"
    check(r.returncode == 1, "%s: exit status %d, expected 1; stderr: %s"
          % (what, r.returncode, err[-500:]))
    lines = err.splitlines()
    check(len(lines) == 1, "%s: stderr has %d lines, expected exactly one:\n%s"
          % (what, len(lines), err[-1000:]))
    bad = [c for c in lines[0] if ord(c) < 0x20 or ord(c) == 0x7F]
    check(not bad, "%s: stderr line holds control characters %r (names from the file must be "
          "escaped): %r" % (what, sorted(set(bad)), lines[0]))
    check(lines[0].startswith(PREFIX) and len(lines[0]) > len(PREFIX) + 3,
          "%s: stderr line does not start with %r: %r" % (what, PREFIX, lines[0]))
    return lines[0]


def main():
    ap = base_args(__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    bad = os.path.join(fixtures, "bad")
    with open(os.path.join(bad, "manifest.json")) as f:
        manifest = json.load(f)
    work = workdir_for(args, "bad_input")
    if os.path.lexists(PWNED):
        os.remove(PWNED)
    failures = []
    for entry in manifest:
        src = os.path.join(bad, entry["file"])
        tag = "%s (%s)" % (entry["file"], entry["why"])
        outdir = os.path.join(work, entry["file"] + ".out")
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        out = os.path.join(outdir, "converted" + entry.get("convert_out", ".safetensors"))
        try:
            msgs = []
            lenient = entry.get("inspect_may_succeed", False)
            msgs.append(run_refused([args.lmforge, "inspect", src], args.timeout, "inspect " + tag,
                                    lenient))
            msgs.append(run_refused([args.lmforge, "inspect", src, "--json"], args.timeout,
                                    "inspect --json " + tag, lenient))
            conv_src = os.path.join(bad, entry.get("convert_src", entry["file"]))
            msgs.append(run_refused([args.lmforge, "convert", conv_src, out], args.timeout,
                                    "convert " + tag))
            check(not os.path.lexists(out), "convert %s: %s exists after a failed convert" % (tag, out))
            left = os.listdir(outdir)
            check(not left, "convert %s: left %s beside the output" % (tag, left))
            check(not os.path.lexists(PWNED), "%s: %s exists: the payload ran" % (tag, PWNED))
            print("refused %-34s %s" % (entry["file"], msgs[2][len(PREFIX):][:110]), flush=True)
        except CheckFailed as e:
            print("FAILED: %s" % e, flush=True)
            failures.append(str(e))
        shutil.rmtree(outdir, ignore_errors=True)
    print("%d of %d hostile/broken inputs refused cleanly" % (len(manifest) - len(failures),
                                                           len(manifest)), flush=True)
    check(not failures, "%d inputs were not refused cleanly:\n  %s"
          % (len(failures), "\n  ".join(failures)))


if __name__ == "__main__":
    main_wrapper("check_bad_input", main)
