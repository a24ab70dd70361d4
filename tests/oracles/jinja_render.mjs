// A model's own Jinja chat template rendered by @huggingface/jinja (the engine transformers.js
// uses), as the independent side of oracle.variants' chat check.
//
// Usage: node jinja_render.mjs REQUEST.json
// REQUEST.json: {"template": str, "bos_token": str, "eos_token": str,
//                "conversations": [{"messages": [{"role", "content"}...], "add_generation_prompt": bool}...]}
// Prints {"renderings": [str...]} on stdout.
import fs from "node:fs";
import {Template} from "@huggingface/jinja";

const [requestPath] = process.argv.slice(2);
if (!requestPath) {
    console.error("usage: node jinja_render.mjs REQUEST.json");
    process.exit(2);
}
const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const template = new Template(request.template);
const renderings = request.conversations.map((c) => template.render({
    messages: c.messages, add_generation_prompt: c.add_generation_prompt,
    bos_token: request.bos_token, eos_token: request.eos_token,
}));
process.stdout.write(JSON.stringify({renderings}) + "\n");
