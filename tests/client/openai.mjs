// The official `openai` npm client against a running ARIA node: chat,
// streaming, completions, model listing and error handling.
// usage: node openai.mjs BASE_URL API_KEY GOLDEN_FILE
import OpenAI from "openai";
import { readFileSync } from "node:fs";

const [base, key, goldenFile] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0 });
const golden = readFileSync(goldenFile, "utf8");
const MODEL = "stories260K.gguf";
let pass = 0, fail = 0;

async function check(name, fn) {
  try {
    await fn();
    pass++;
  } catch (e) {
    fail++;
    console.log(`FAIL: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

await check("models.list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert(ids.includes(MODEL), `models: ${ids}`);
});

await check("models.retrieve", async () => {
  const m = await client.models.retrieve(MODEL);
  assert(m.id === MODEL && m.object === "model", JSON.stringify(m));
});

await check("completions greedy = golden", async () => {
  const r = await client.completions.create({ model: MODEL, prompt: "", max_tokens: 200, temperature: 0 });
  assert(r.choices[0].text === golden, `text: ${JSON.stringify(r.choices[0].text.slice(0, 80))}`);
  assert(r.usage.completion_tokens === 200, JSON.stringify(r.usage));
});

await check("chat.completions", async () => {
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "system", content: "You tell stories." }, { role: "user", content: "Once upon a time" }],
    max_tokens: 20,
    seed: 7,
  });
  const c = r.choices[0];
  assert(c.message.role === "assistant" && c.message.content.length > 0, JSON.stringify(c));
  assert(["stop", "length"].includes(c.finish_reason), c.finish_reason);
  assert(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, JSON.stringify(r.usage));
});

await check("chat streaming with usage", async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "Tell me about a cat" }],
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", chunks = 0, usage = null, finish = null;
  for await (const ch of stream) {
    chunks++;
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) {
      text += c.delta.content || "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert(chunks > 3 && text.length > 0, `chunks ${chunks}, text ${JSON.stringify(text)}`);
  assert(finish === "length" && usage && usage.completion_tokens === 16, JSON.stringify({ finish, usage }));
  // the same request, not streamed, gives the same text (greedy)
  const r = await client.chat.completions.create({
    model: MODEL, messages: [{ role: "user", content: "Tell me about a cat" }], max_tokens: 16, temperature: 0,
  });
  assert(r.choices[0].message.content === text, `${JSON.stringify(r.choices[0].message.content)} != ${JSON.stringify(text)}`);
});

await check("completions streaming", async () => {
  const stream = await client.completions.create({ model: MODEL, prompt: "", max_tokens: 30, temperature: 0, stream: true });
  let text = "";
  for await (const ch of stream) text += ch.choices[0]?.text || "";
  assert(golden.startsWith(text) && text.length > 20, JSON.stringify(text));
});

await check("abort a stream", async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 500, stream: true },
    { signal: ac.signal },
  );
  let n = 0;
  try {
    for await (const _ of stream) {
      if (++n === 2) ac.abort();
    }
  } catch (e) {
    assert(e instanceof OpenAI.APIUserAbortError || e.name === "AbortError", `${e}`);
  }
  assert(n >= 2, `chunks ${n}`);
});

async function expectError(name, cls, status, fn) {
  await check(name, async () => {
    try {
      await fn();
    } catch (e) {
      assert(e instanceof cls, `${name}: got ${e.constructor.name}: ${e.message}`);
      assert(e.status === status, `status ${e.status}`);
      assert(typeof e.message === "string" && e.message.length > 0, "message");
      return;
    }
    throw new Error("no error raised");
  });
}

await expectError("unknown model", OpenAI.NotFoundError, 404, () =>
  client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }));
await expectError("bad temperature", OpenAI.BadRequestError, 400, () =>
  client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], temperature: 9 }));
await expectError("n=2", OpenAI.BadRequestError, 400, () =>
  client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], n: 2 }));
await expectError("context overflow", OpenAI.BadRequestError, 400, () =>
  client.completions.create({ model: MODEL, prompt: "the cat sat on the mat ".repeat(600) }));
const stranger = new OpenAI({ baseURL: base, apiKey: "wrong-key", maxRetries: 0 });
await expectError("wrong key", OpenAI.AuthenticationError, 401, () => stranger.models.list());

console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
