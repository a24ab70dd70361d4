// Hugging Face's WordPiece tokenizer (tokenizers.js, @huggingface/tokenizers, the tokenizer
// code of transformers.js) on each text of each run: ids without and with [CLS]/[SEP], and
// decode() with and without special tokens. Used by check_wordpiece.py.
//
// Usage: node wordpiece_oracle.mjs REQUEST.json
// REQUEST: {"runs": [{"name", "tokenizer_json", "tokenizer_config", "texts", "model_max_length"}]};
// prints {"<name>": [{"ids", "ids_special", "decoded", "decoded_skip"}, ...], ...}.
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = {};
for (const run of request.runs) {
  const tok = new Tokenizer(JSON.parse(readFileSync(run.tokenizer_json, "utf8")),
                            JSON.parse(readFileSync(run.tokenizer_config, "utf8")));
  const texts = JSON.parse(readFileSync(run.texts, "utf8"));
  out[run.name] = texts.map((text) => {
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    let ids_special = tok.encode(text).ids;
    // Hugging Face's truncation of one sequence: the text's ids cut so that [CLS] and [SEP] fit.
    if (ids_special.length > run.model_max_length)
      ids_special = [ids_special[0], ...ids.slice(0, run.model_max_length - 2), ids_special.at(-1)];
    return {
      ids,
      ids_special,
      // decode() refuses an empty list; the empty text decodes to "".
      decoded: ids.length ? tok.decode(ids) : "",
      decoded_skip: tok.decode(ids_special, { skip_special_tokens: true }),
    };
  });
}
process.stdout.write(JSON.stringify(out));
