#!/bin/sh
# Seeds serve_request_fuzz: one endpoint byte (0 chat, 1 completions, 2 embeddings, 3 tokenize,
# 4 detokenize, 5 ask; see tests/fuzz/serve_request_fuzz.cpp) then a request body as the SDKs
# send it.
set -eu
out=$2
d="$out/serve_request"
mkdir -p "$d"
printf '\000{"model": "demo", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "caf\303\251 \360\237\231\202"}]}], "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 42, "stop": ["\\n\\n", "END"], "logprobs": true, "top_logprobs": 2, "n": 1, "user": null}' > "$d/chat"
printf '\001{"model": "demo", "prompt": [1, 450, 2], "echo": false, "logprobs": 3, "max_tokens": 4}' > "$d/completion_ids"
printf '\001{"model": "demo", "prompt": "Once upon a time", "stream": true, "stop": "\\n"}' > "$d/completion_text"
printf '\002{"model": "demo", "input": ["a", "b"], "encoding_format": "base64"}' > "$d/embeddings"
printf '\002{"model": "demo", "input": [[1, 2], [3]]}' > "$d/embeddings_ids"
printf '\003{"content": "Hello world", "add_special": true, "with_pieces": true}' > "$d/tokenize"
printf '\004{"tokens": [1, 440, 306, 3920, 893]}' > "$d/detokenize"
printf '\005{"question": "Who kept the lamp?", "k": 3, "mode": "hybrid", "stream": false, "max_tokens": 32}' > "$d/ask"
