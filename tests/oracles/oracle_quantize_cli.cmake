# `lmforge quantize` as a command (issue 10, item 1): help, bad TYPE, refusals, --json shape.
lmforge_oracle_check(quantize_cli 120 oracle)
