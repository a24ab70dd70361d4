// @huggingface/gguf as an independent GGUF parser.
//
// Usage: node gguf_parse.mjs FILE.gguf
// Prints one JSON object:
//   {"version", "tensor_count", "kv_count", "little_endian", "tensor_data_offset",
//    "metadata": {key: {"type": "UINT32"|..., "value": v, "element_type"?: T}},
//    "tensors": [{"name", "dtype": "F32"|"Q8_0"|..., "ne": [...] (GGUF order, innermost first),
//                 "offset" (relative to the data blob)}]}
// 64-bit integers that do not fit a double exactly are printed as decimal strings.
import path from "node:path";
import {gguf, GGUFValueType, GGMLQuantizationType} from "@huggingface/gguf";

const HEADER_KEYS = new Set(["version", "tensor_count", "kv_count"]);

function jsonable(v) {
    if (typeof v === "bigint") {
        return (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER))
            ? Number(v) : v.toString();
    }
    if (Array.isArray(v)) return v.map(jsonable);
    return v;
}

async function main() {
    const file = process.argv[2];
    if (!file) {
        console.error("usage: node gguf_parse.mjs FILE.gguf");
        process.exit(2);
    }
    const parsed = await gguf(path.resolve(file), {allowLocalFile: true, typedMetadata: true});
    const metadata = {};
    for (const [key, entry] of Object.entries(parsed.typedMetadata)) {
        if (HEADER_KEYS.has(key)) continue;
        const item = {type: GGUFValueType[entry.type], value: jsonable(entry.value)};
        if (entry.type === GGUFValueType.ARRAY) item.element_type = GGUFValueType[entry.subType];
        metadata[key] = item;
    }
    const tensors = parsed.tensorInfos.map((t) => ({
        name: t.name,
        dtype: GGMLQuantizationType[t.dtype] ?? String(t.dtype),
        ne: t.shape.map(jsonable),
        offset: jsonable(t.offset),
    }));
    process.stdout.write(JSON.stringify({
        version: jsonable(parsed.typedMetadata.version.value),
        tensor_count: jsonable(parsed.typedMetadata.tensor_count.value),
        kv_count: jsonable(parsed.typedMetadata.kv_count.value),
        little_endian: parsed.littleEndian,
        tensor_data_offset: jsonable(parsed.tensorDataOffset),
        metadata, tensors,
    }) + "\n");
}

main().catch((e) => {
    console.error("gguf_parse.mjs: " + (e?.stack ?? e));
    process.exit(1);
});
