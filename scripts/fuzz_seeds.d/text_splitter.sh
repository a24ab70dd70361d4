#!/bin/sh
# Seeds text_splitter_fuzz: two option bytes (chunk_size, chunk_overlap; see
# tests/fuzz/text_splitter_fuzz.cpp) then a text with every separator the splitter knows, CRLF,
# multibyte characters and a long word.
set -eu
out=$2
mkdir -p "$out/text_splitter"
printf '\040\010Title\n\nFirst paragraph, two lines\r\nof text.\n\nA very-long-word-without-spaces-at-all here; caf\303\251 \346\227\245\346\234\254 \360\237\231\202 end.\n' \
    > "$out/text_splitter/paragraphs"
printf '\005\000one two three four five six seven eight nine ten' > "$out/text_splitter/words"
