// llama.cpp's embeddings (node-llama-cpp's LlamaEmbeddingContext, its public embedding API) for
// a llama GGUF, as an oracle for `lmforge embed`.
//
// Usage: node llama_embed.mjs MODEL.gguf REQUEST.json
// REQUEST.json: {"prompts": [str...], "ids": [[int...]...] (one list per prompt, BOS first),
//                "prefixes": true (default; false skips them)}
// Prints {"n_embd", "results": [{"prompt", "tokens" (llama.cpp's own tokenization, BOS first),
//          "last" (getEmbeddingFor(ids): the pooled embedding, or the last token's when the file
//          pools nothing), "prefixes" ([k] = getEmbeddingFor(ids[0..k]))}]}.
// For a llama GGUF without `llama.pooling_type` llama.cpp pools nothing and node-llama-cpp
// returns the last token's embedding (the hidden state after the output norm), unnormalized;
// because attention is causal, the last embedding of the prefix ids[0..k] is token k's state in
// the whole text, so "prefixes" gives every token's state and mean pooling can be compared too.
import fs from "node:fs";
import path from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

async function main() {
    const [modelPath, requestPath] = process.argv.slice(2);
    if (!modelPath || !requestPath) {
        console.error("usage: node llama_embed.mjs MODEL.gguf REQUEST.json");
        process.exit(2);
    }
    const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
    const logs = [];
    const llama = await getLlama({
        gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
        progressLogs: false, logLevel: LlamaLogLevel.warn, maxThreads: 1,
        logger: (level, message) => logs.push(`[${level}] ${message}`),
    });
    const model = await llama.loadModel({modelPath: path.resolve(modelPath), gpuLayers: 0, useMmap: true,
                                          checkTensors: true});
    const longest = Math.max(...request.ids.map((ids) => ids.length));
    const ctx = await model.createEmbeddingContext({contextSize: Math.max(64, longest + 8),
                                                    batchSize: Math.max(64, longest + 8), threads: 1});
    const results = [];
    for (let i = 0; i < request.prompts.length; i++) {
        const prompt = request.prompts[i];
        const ids = request.ids[i];
        const raw = Array.from(model.tokenize(prompt, false));
        const tokens = model.tokens.shouldPrependBosToken ? [model.tokens.bos, ...raw] : raw;
        const last = Array.from((await ctx.getEmbeddingFor(ids)).vector);
        const prefixes = [];
        for (let k = 1; (request.prefixes ?? true) && k <= ids.length; k++)
            prefixes.push(Array.from((await ctx.getEmbeddingFor(ids.slice(0, k))).vector));
        results.push({prompt, tokens, last, prefixes});
    }
    const nEmbd = model.embeddingVectorSize;
    await ctx.dispose();
    await model.dispose();
    process.stdout.write(JSON.stringify({n_embd: nEmbd, results}) + "\n");
}

main().catch((e) => {
    console.error(String(e?.stack ?? e));
    process.exit(1);
});
