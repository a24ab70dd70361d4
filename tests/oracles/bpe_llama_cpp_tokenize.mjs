// llama.cpp's tokenizer (node-llama-cpp's prebuilt binaries, vocabulary only) for
// check_bpe_tokenizer.py.
//
// Usage: node bpe_llama_cpp_tokenize.mjs VOCAB.gguf LINES.json [special]
// LINES.json: a JSON array of strings. Prints a JSON array with each line's ids: no BOS, and
// special-token text is plain text (llama_tokenize with add_special and parse_special false)
// unless "special" is given (parse_special true). With "time" (bench/tokenize_bench.py) it
// prints {"seconds", "tokens", "bytes"}: the tokenize calls alone, every line REPEAT times.
import fs from "node:fs";
import path from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, linesPath, mode] = process.argv.slice(2);
if (!modelPath || !linesPath) {
    console.error("usage: node bpe_llama_cpp_tokenize.mjs VOCAB.gguf LINES.json");
    process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
                              progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: 1});
const model = await llama.loadModel({modelPath: path.resolve(modelPath), vocabOnly: true, gpuLayers: 0});
const lines = JSON.parse(fs.readFileSync(linesPath, "utf8"));
if (mode === "time") {
    const repeat = Number(process.argv[5] ?? 1);
    let tokens = 0, bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < repeat; r++)
        for (const line of lines) {
            tokens += model.tokenize(line, false).length;
            bytes += Buffer.byteLength(line, "utf8");
        }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({seconds, tokens, bytes}) + "\n");
} else {
    const out = lines.map((line) => Array.from(model.tokenize(line, mode === "special")));
    process.stdout.write(JSON.stringify(out) + "\n");
}
await model.dispose();
await llama.dispose();
