// llama.cpp's speed on a GGUF file, through node-llama-cpp's prebuilt CPU binaries, measured
// the way `lmforge bench` measures lmforge's, for bench/engine_bench.py.
//
// Usage: node bench/llama_cpp_bench.mjs MODEL.gguf [--threads 2] [--n-prompt 512] [--n-gen 128]
//                                        [--reps 1] [--warmup 0]
// Per repetition a fresh context (KV cache empty): prompt processing = one evaluation of
// n-prompt token ids in a single batch (no output sampled), then generation = n-gen tokens,
// each one evaluation of the previous token followed by greedy (temperature 0) sampling. The
// ids are random valid ids from a fixed seed. Only the evaluations are timed, not the load.
// Prints one JSON object: {"engine", "threads", "n_prompt", "n_gen", "pp_runs", "tg_runs"}
// (tokens per second of each timed repetition).
//
// node-llama-cpp resolves its package from tests/oracles/node_modules (installed by
// scripts/install_oracles.sh); run this file from anywhere.
import fs from "node:fs";
import path from "node:path";
import {createRequire} from "node:module";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const oracleModules = path.resolve(here, "..", "tests", "oracles", "package.json");

function parseArgs(argv) {
    const opts = {threads: 2, nPrompt: 512, nGen: 128, reps: 1, warmup: 0, model: null};
    const names = {"--threads": "threads", "--n-prompt": "nPrompt", "--n-gen": "nGen",
                   "--reps": "reps", "--warmup": "warmup"};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a in names) {
            const v = Number(argv[++i]);
            if (!Number.isInteger(v) || v < 0) throw new Error(`${a} takes a whole number, got ${argv[i]}`);
            opts[names[a]] = v;
        } else if (opts.model === null && !a.startsWith("--")) {
            opts.model = a;
        } else {
            throw new Error(`unknown argument ${a}`);
        }
    }
    if (!opts.model) throw new Error("usage: node llama_cpp_bench.mjs MODEL.gguf [--threads T] [--n-prompt P] [--n-gen N] [--reps R] [--warmup W]");
    if (opts.threads < 1) throw new Error("--threads must be at least 1");
    if (opts.nPrompt < 1 || opts.nGen < 1) throw new Error("--n-prompt and --n-gen must be at least 1");
    return opts;
}

// A fixed-seed sequence of ids in [0, n): a 32-bit LCG (Numerical Recipes constants); speed does
// not depend on which ids, only that every run sees the same ones.
function promptIds(n, vocab, seed = 1234) {
    let s = seed >>> 0;
    const ids = [];
    for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        ids.push(s % vocab);
    }
    return ids;
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const require = createRequire(oracleModules);
    const {getLlama, LlamaLogLevel} = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
    // build "never" + skipDownload: only the prebuilt CPU binaries npm installed; maxThreads
    // pins the pool to the thread count under test.
    const llama = await getLlama({gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
                                  progressLogs: false, logLevel: LlamaLogLevel.error, maxThreads: opts.threads});
    if (!fs.existsSync(opts.model)) throw new Error(`${opts.model}: no such file`);
    const model = await llama.loadModel({modelPath: path.resolve(opts.model), gpuLayers: 0, useMmap: true});
    const vocab = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length ?? 32000;
    const prompt = promptIds(opts.nPrompt, vocab);

    const once = async () => {
        const context = await model.createContext({
            contextSize: opts.nPrompt + opts.nGen + 16, batchSize: opts.nPrompt, sequences: 1,
            threads: {ideal: opts.threads, min: opts.threads},
        });
        const sequence = context.getSequence();
        let t = process.hrtime.bigint();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt);
        const ppSeconds = Number(process.hrtime.bigint() - t) / 1e9;

        // evaluate() feeds the given token, then each generated one back: nGen yields = nGen
        // single-token evaluations, each followed by a greedy pick.
        const first = prompt[prompt.length - 1];
        let n = 0;
        t = process.hrtime.bigint();
        for await (const token of sequence.evaluate([first], {temperature: 0})) {
            void token;
            if (++n >= opts.nGen) break;
        }
        const tgSeconds = Number(process.hrtime.bigint() - t) / 1e9;
        await sequence.dispose();
        await context.dispose();
        return {pp: opts.nPrompt / ppSeconds, tg: opts.nGen / tgSeconds};
    };

    for (let i = 0; i < opts.warmup; i++) await once();
    const pp = [], tg = [];
    for (let i = 0; i < opts.reps; i++) {
        const r = await once();
        pp.push(r.pp);
        tg.push(r.tg);
    }
    process.stdout.write(JSON.stringify({engine: "llama.cpp (node-llama-cpp)", threads: opts.threads,
                                         n_prompt: opts.nPrompt, n_gen: opts.nGen,
                                         pp_runs: pp, tg_runs: tg}) + "\n");
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    console.error("llama_cpp_bench.mjs: " + (e?.message ?? e));
    process.exit(1);
});
