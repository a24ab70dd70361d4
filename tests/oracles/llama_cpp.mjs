// llama.cpp (through node-llama-cpp's prebuilt CPU binaries) as an oracle for lmforge's GGUF files.
//
// Usage: node llama_cpp.mjs MODEL.gguf REQUEST.json
// REQUEST.json: {"prompts": [str...], "ids": [[int...]...] (optional, token ids to evaluate,
//                one list per prompt; default: llama.cpp's own tokenization), "generate": 16,
//                "probabilities": true, "lora": [{"path": ADAPTER.gguf, "scale": 1}] (optional)}
// Prints one JSON object on stdout:
//   {"vocab_size", "bos", "eos", "eog" (every end-of-generation id), "add_bos",
//    "results": [{"prompt", "tokens" (llama.cpp's tokenization, BOS prepended when the model asks),
//                 "ids" (what was evaluated), "probs" ([position][token] full softmax, if asked),
//                 "greedy" (temperature-0 continuation after the ids)}]}
// Exits non-zero with a message on stderr when llama.cpp refuses the model.
import fs from "node:fs";
import path from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

async function main() {
    const [modelPath, requestPath] = process.argv.slice(2);
    if (!modelPath || !requestPath) {
        console.error("usage: node llama_cpp.mjs MODEL.gguf REQUEST.json");
        process.exit(2);
    }
    const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
    const nGenerate = request.generate ?? 16;
    const wantProbs = request.probabilities ?? true;

    // build "never" + skipDownload: use only the prebuilt binaries installed by npm, never fetch
    // or compile llama.cpp; gpu false: CPU only, so results do not depend on the machine's GPU.
    const logs = [];
    const llama = await getLlama({
        gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
        progressLogs: false, logLevel: LlamaLogLevel.warn, maxThreads: 1,
        logger: (level, message) => logs.push(`[${level}] ${message}`),
    });
    const model = await llama.loadModel({modelPath: path.resolve(modelPath), gpuLayers: 0,
                                          useMmap: true, checkTensors: true});
    const bos = model.tokens.bos;
    const addBos = model.tokens.shouldPrependBosToken;

    const results = [];
    for (let i = 0; i < request.prompts.length; i++) {
        const prompt = request.prompts[i];
        const raw = Array.from(model.tokenize(prompt, false));
        const tokens = (addBos && bos != null) ? [bos, ...raw] : raw;
        const ids = request.ids?.[i] ?? tokens;
        const maxTokens = ids.length + nGenerate + 1;
        // One context per prompt: positions start at 0 and nothing is shared between prompts.
        // One thread: the oracle is tiny, and spinning worker threads on a loaded machine cost
        // far more than they save. An F32 KV cache and no flash attention (whose CPU path works
        // on 16-bit K/V) keep llama.cpp's own rounding out of the comparison with the float64
        // reference: f32 GGUFs then agree to ~2e-6 in probability instead of ~4e-3.
        const context = await model.createContext({contextSize: Math.max(64, maxTokens),
                                                   batchSize: Math.max(64, maxTokens),
                                                   sequences: 1, threads: 1,
                                                   experimentalKvCacheKeyType: "F32",
                                                   experimentalKvCacheValueType: "F32",
                                                   flashAttention: false,
                                                   ...(request.lora ? {lora: {adapters: request.lora.map(
                                                       (a) => ({filePath: path.resolve(a.path), scale: a.scale ?? 1}))}} : {})});
        const sequence = context.getSequence();
        const out = {prompt, tokens, ids, probs: [], greedy: []};
        // Full distributions: temperature 1 with every truncating sampler switched off is a plain
        // softmax of the logits.
        const probOpts = {temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1};
        const input = ids.map((t, j) => (wantProbs || j === ids.length - 1)
            ? [t, {generateNext: {probabilities: true, options: probOpts}}] : t);
        const evaluated = await sequence.controlledEvaluate(input);
        let last = null;
        for (let j = 0; j < ids.length; j++) {
            const r = evaluated[j];
            if (r?.next?.probabilities) {
                last = r.next.probabilities;
                if (wantProbs) out.probs.push(mapToArray(last, model));
            }
        }
        // Greedy continuation: argmax of llama.cpp's distribution, fed back one token at a time.
        for (let g = 0; g < nGenerate; g++) {
            const next = argmax(last);
            out.greedy.push(next);
            if (g + 1 === nGenerate) break;
            const r = await sequence.controlledEvaluate(
                [[next, {generateNext: {probabilities: true, options: probOpts}}]]);
            last = r[0].next.probabilities;
        }
        results.push(out);
        await sequence.dispose();
        await context.dispose();
    }
    const vocab = vocabLength(model);
    // Every id llama.cpp ends generation on (its EOG set: eos, eot, eom and known texts).
    const eog = [];
    for (let t = 0; t < (vocab ?? 0); t++) if (model.isEogToken(t)) eog.push(t);
    process.stdout.write(JSON.stringify({
        vocab_size: vocab, bos, eos: model.tokens.eos, eog, add_bos: addBos, results, llama_logs: logs,
    }) + "\n");
    await model.dispose();
    await llama.dispose();
}

function vocabLength(model) {
    // the vocabulary is the tokenizer's token list in the GGUF metadata
    const meta = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens;
    return Array.isArray(meta) ? meta.length : null;
}

function mapToArray(map, model) {
    const n = vocabLength(model);
    const p = new Array(n).fill(0);
    for (const [tok, prob] of map) p[tok] = prob;
    return p;
}

function argmax(map) {
    let best = -1, bestP = -1;
    for (const [tok, prob] of map) {
        if (prob > bestP || (prob === bestP && tok < best)) { best = tok; bestP = prob; }
    }
    return best;
}

main().catch((e) => {
    console.error("llama_cpp.mjs: " + (e?.stack ?? e));
    process.exit(1);
});
