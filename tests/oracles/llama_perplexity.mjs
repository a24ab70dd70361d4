// llama.cpp (node-llama-cpp's prebuilt CPU binaries) as the oracle for `lmforge perplexity`:
// the probability llama.cpp gives each scored token of each chunk.
//
// Usage: node llama_perplexity.mjs MODEL.gguf REQUEST.json
// REQUEST.json: {"chunks": [[id...]...] (each evaluated from an empty KV cache, exactly as
//                given: the caller puts BOS first), "first": F, "wrong_too": false}
// Prints {"probs": [[p...]...]}: for chunk c, probs[c][k] is llama.cpp's probability of
// chunk[F + k + 1] after chunk[0 .. F + k], for k = 0 .. len(chunk) - F - 2 (the positions
// llama.cpp's perplexity tool scores). The caller does the arithmetic. With "wrong_too",
// also "wrong": the same distributions looked up at chunk[F + k] (the token just fed in), a
// deliberately wrong score for self-tests.
import fs from "node:fs";
import path from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

async function main() {
    const [modelPath, requestPath] = process.argv.slice(2);
    if (!modelPath || !requestPath) {
        console.error("usage: node llama_perplexity.mjs MODEL.gguf REQUEST.json");
        process.exit(2);
    }
    const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
    const first = request.first;
    const wrongToo = request.wrong_too ?? false;
    const nCtx = Math.max(...request.chunks.map((c) => c.length));
    const llama = await getLlama({
        gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
        progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: 1,
    });
    const model = await llama.loadModel({modelPath: path.resolve(modelPath), gpuLayers: 0, useMmap: true});
    // F32 KV cache and no flash attention, as in llama_cpp.mjs: keeps llama.cpp's 16-bit cache
    // rounding out of a comparison that is about the method.
    const context = await model.createContext({
        contextSize: Math.max(64, nCtx + 8), batchSize: Math.max(64, nCtx + 8), sequences: 1, threads: 1,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false,
    });
    const sequence = context.getSequence();
    // Temperature 1 with every truncating sampler off: the plain softmax of the logits.
    const probOpts = {temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1};
    const out = [], wrong = [];
    for (const chunk of request.chunks) {
        await sequence.clearHistory();
        const input = chunk.map((t, j) => (j >= first && j + 1 < chunk.length)
            ? [t, {generateNext: {probabilities: true, options: probOpts}}] : t);
        const evaluated = await sequence.controlledEvaluate(input);
        const probs = [], wrongProbs = [];
        for (let j = first; j + 1 < chunk.length; j++) {
            const p = evaluated[j]?.next?.probabilities;
            if (!p) throw new Error(`no probabilities at position ${j}`);
            probs.push(p.get(chunk[j + 1]) ?? 0);
            if (wrongToo) wrongProbs.push(p.get(chunk[j]) ?? 0);
        }
        out.push(probs);
        if (wrongToo) wrong.push(wrongProbs);
    }
    process.stdout.write(JSON.stringify(wrongToo ? {probs: out, wrong} : {probs: out}) + "\n");
    await sequence.dispose();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    console.error("llama_perplexity.mjs: " + (e?.stack ?? e));
    process.exit(1);
});
