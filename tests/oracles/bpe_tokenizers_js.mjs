// Hugging Face's tokenizers.js (@huggingface/tokenizers, pinned in package.json) as an
// independent tokenizer.json implementation for check_bpe_tokenizer.py.
//
// Usage: node bpe_tokenizers_js.mjs TOKENIZER.json LINES.json
// LINES.json: a JSON array of strings. Prints a JSON array with each line's ids, special
// tokens not added (the post-processor's BOS is left out, as `lmforge tokenize --lines` does).
import fs from "node:fs";
import {Tokenizer} from "@huggingface/tokenizers";

const [tokenizerPath, linesPath] = process.argv.slice(2);
if (!tokenizerPath || !linesPath) {
    console.error("usage: node bpe_tokenizers_js.mjs TOKENIZER.json LINES.json");
    process.exit(2);
}
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const lines = JSON.parse(fs.readFileSync(linesPath, "utf8"));
const out = lines.map((line) => Array.from(tokenizer.encode(line, {add_special_tokens: false}).ids));
process.stdout.write(JSON.stringify(out) + "\n");
