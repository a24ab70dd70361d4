// The official clients against a live `lmforge serve` (check_serve_sdk.py starts it): the
// `openai` npm SDK and @langchain/openai, unchanged, pointed at its base URL. Every check
// throws on failure; the last line printed is one JSON object the Python side reads back.
//
//   node serve_sdk.mjs BASE_URL API_KEY MODEL_ID
import OpenAI from "openai";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey, maxRetries: 0, timeout: 120000 });
const results = {};

function check(cond, message) {
  if (!cond) throw new Error("check failed: " + message);
}

async function expectError(promise, cls, status, what) {
  try {
    await promise;
  } catch (e) {
    check(e instanceof cls, `${what}: expected ${cls.name}, got ${e && e.constructor && e.constructor.name}: ${e}`);
    check(e.status === status, `${what}: status ${e.status}, expected ${status}`);
    return e;
  }
  throw new Error(`${what}: expected ${cls.name}, but the call succeeded`);
}

const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Tell me about the old house by the river." },
];

// models
const models = await client.models.list();
const ids = [];
for await (const m of models) ids.push(m.id);
check(ids.includes(model), `models.list has ${JSON.stringify(ids)}, not ${model}`);
const one = await client.models.retrieve(model);
check(one.id === model, "models.retrieve");
results.models = ids;

// chat, plain and streamed at temperature 0: the deltas concatenate to the plain answer
const plain = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 24 });
check(plain.object === "chat.completion", "chat object");
const answer = plain.choices[0].message.content;
check(typeof answer === "string" && answer.length > 0, "chat content is a non-empty string");
check(["stop", "length"].includes(plain.choices[0].finish_reason), "chat finish_reason");
check(plain.usage.prompt_tokens > 0 && plain.usage.completion_tokens > 0, "chat usage");
check(plain.usage.total_tokens === plain.usage.prompt_tokens + plain.usage.completion_tokens, "chat total_tokens");

const stream = await client.chat.completions.create({
  model, messages, temperature: 0, max_tokens: 24, stream: true, stream_options: { include_usage: true },
});
let streamed = "";
let first = true;
let usage = null;
let finish = null;
for await (const chunk of stream) {
  check(chunk.object === "chat.completion.chunk", "chunk object");
  if (first) {
    check(chunk.choices[0].delta.role === "assistant", "the first chunk carries delta.role assistant");
    first = false;
  }
  if (chunk.choices.length === 0) {
    usage = chunk.usage;
    continue;
  }
  streamed += chunk.choices[0].delta.content ?? "";
  if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
}
check(streamed === answer, `streamed deltas ${JSON.stringify(streamed)} != plain answer ${JSON.stringify(answer)}`);
check(finish === plain.choices[0].finish_reason, "streamed finish_reason");
check(usage && usage.completion_tokens === plain.usage.completion_tokens, "include_usage chunk");
results.chat = answer;

// the SDK's stream helper (it assembles the final message itself)
const runner = client.chat.completions.stream({ model, messages, temperature: 0, max_tokens: 24 });
const final = await runner.finalChatCompletion();
check(final.choices[0].message.content === answer, "chat.completions.stream final message");

// stop strings never leak into the output
const stopped = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 24, stop: [answer.slice(3, 6)] });
check(!stopped.choices[0].message.content.includes(answer.slice(3, 6)), "stop string leaked");
check(stopped.choices[0].finish_reason === "stop", "stop string finish_reason");

// logprobs
const lp = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 5, logprobs: true, top_logprobs: 3 });
const content = lp.choices[0].logprobs.content;
check(content.length === lp.usage.completion_tokens, "one logprob entry per token");
for (const e of content) {
  check(e.logprob <= 0 && e.top_logprobs.length === 3, "logprob entry");
  check(e.top_logprobs[0].logprob >= e.logprob - 1e-4, "greedy: the drawn token is the most likely one");
}

// text completions
const comp = await client.completions.create({ model, prompt: "The old house", temperature: 0, max_tokens: 16 });
check(comp.object === "text_completion" && typeof comp.choices[0].text === "string", "completion shape");
results.completion = comp.choices[0].text;
const echoed = await client.completions.create({ model, prompt: "The old house", temperature: 0, max_tokens: 16, echo: true });
check(echoed.choices[0].text === "The old house" + comp.choices[0].text, "echo");
let compStream = "";
for await (const c of await client.completions.create({ model, prompt: "The old house", temperature: 0, max_tokens: 16, stream: true }))
  compStream += c.choices[0]?.text ?? "";
check(compStream === comp.choices[0].text, "streamed completion equals the plain one");

// embeddings: explicit floats, and the SDK's default base64 (decoded by the SDK)
const floats = await client.embeddings.create({ model, input: ["a river", "an old house"], encoding_format: "float" });
const b64 = await client.embeddings.create({ model, input: ["a river", "an old house"] });
check(floats.data.length === 2 && b64.data.length === 2, "two embeddings");
const dim = floats.data[0].embedding.length;
check(dim > 0 && b64.data[0].embedding.length === dim, "embedding dimensions");
for (let i = 0; i < 2; i++)
  for (let j = 0; j < dim; j++)
    check(Math.abs(floats.data[i].embedding[j] - b64.data[i].embedding[j]) < 1e-6, "base64 and float embeddings agree");
results.embedding_dim = dim;

// errors surface as the SDK's error classes
const bad = new OpenAI({ baseURL: baseURL + "/v1", apiKey: apiKey + "x", maxRetries: 0 });
await expectError(bad.models.list(), OpenAI.AuthenticationError, 401, "wrong key");
const nf = await expectError(client.chat.completions.create({ model: "no-such-model", messages }), OpenAI.NotFoundError, 404, "unknown model");
check(nf.code === "model_not_found", `unknown model code ${nf.code}`);
const br = await expectError(client.chat.completions.create({ model, messages, temperature: 5 }), OpenAI.BadRequestError, 400, "temperature 5");
check(br.param === "temperature", `bad request param ${br.param}`);
await expectError(client.chat.completions.create({ model, messages: [] }), OpenAI.BadRequestError, 400, "no messages");
await expectError(client.embeddings.create({ model: "nope", input: "x" }), OpenAI.NotFoundError, 404, "unknown embedding model");

// LangChain, unchanged: chat (plain and streamed) and embeddings
const lc = new ChatOpenAI({ model, apiKey, temperature: 0, maxTokens: 24, maxRetries: 0, configuration: { baseURL: baseURL + "/v1" } });
const lcAnswer = await lc.invoke([["system", messages[0].content], ["human", messages[1].content]]);
check(lcAnswer.content === answer, `LangChain answer ${JSON.stringify(lcAnswer.content)} != ${JSON.stringify(answer)}`);
let lcStreamed = "";
for await (const chunk of await lc.stream([["system", messages[0].content], ["human", messages[1].content]])) lcStreamed += chunk.content;
check(lcStreamed === answer, "LangChain stream");
const lcEmb = new OpenAIEmbeddings({ model, apiKey, maxRetries: 0, configuration: { baseURL: baseURL + "/v1" } });
const q = await lcEmb.embedQuery("a river");
check(q.length === dim, "LangChain embedQuery");
for (let j = 0; j < dim; j++) check(Math.abs(q[j] - floats.data[0].embedding[j]) < 1e-5, "LangChain embedding equals the SDK's");
const lcBad = new ChatOpenAI({ model: "no-such-model", apiKey, maxRetries: 0, configuration: { baseURL: baseURL + "/v1" } });
let lcFailed = false;
try {
  await lcBad.invoke("hi");
} catch (e) {
  lcFailed = e.status === 404 || /404|model_not_found|does not exist/.test(String(e));
}
check(lcFailed, "LangChain surfaces the 404");

console.log(JSON.stringify(results));
