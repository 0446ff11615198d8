// bench/api-load.mjs — requests per second and p50/p99 latency of a node's
// API at several concurrencies (Node 18+, no packages: global fetch).
//   node bench/api-load.mjs BASE_URL MODEL [SECONDS] [KEY]
// For each of /health and a 16-token completion, at 1, 16 and 256 concurrent
// connections: runs SECONDS (default 5) and reports the median of 3 runs of
// rps, p50 and p99. Then opens 256 streams at once and checks every one
// ends with [DONE] (prints lost and errored streams).
const [base, model, secsArg, key] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node bench/api-load.mjs BASE_URL MODEL [SECONDS] [KEY]");
  process.exit(2);
}
const secs = Number(secsArg || 5);
const headers = { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) };
const root = base.replace(/\/v1\/?$/, "");

const health = () => fetch(`${root}/health`, { headers }).then((r) => { if (!r.ok) throw new Error(r.status); return r.text(); });
const complete = () =>
  fetch(`${root}/v1/completions`, {
    method: "POST", headers,
    body: JSON.stringify({ model, prompt: "Once upon a time", max_tokens: 16, temperature: 0 }),
  }).then(async (r) => { const t = await r.text(); if (!r.ok) throw new Error(`${r.status} ${t}`); return t; });

async function run(fn, conc) {
  const lat = [];
  let errors = 0;
  const end = performance.now() + secs * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try { await fn(); lat.push(performance.now() - t0); } catch { errors++; }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, worker));
  const el = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { rps: lat.length / el, p50: q(0.5), p99: q(0.99), errors };
}
const med = (xs) => xs.slice().sort((a, b) => a - b)[1];

console.log("| endpoint | connections | req/s | p50 ms | p99 ms | errors |");
console.log("|---|---|---|---|---|---|");
for (const [name, fn] of [["/health", health], ["completion (16 tokens)", complete]]) {
  for (const conc of [1, 16, 256]) {
    const rs = [];
    for (let i = 0; i < 3; i++) rs.push(await run(fn, conc));
    console.log(`| ${name} | ${conc} | ${med(rs.map((r) => r.rps)).toFixed(1)} | ${med(rs.map((r) => r.p50)).toFixed(2)} | ${med(rs.map((r) => r.p99)).toFixed(2)} | ${rs.reduce((a, r) => a + r.errors, 0)} |`);
  }
}

// 256 concurrent streams
const stream = async () => {
  const r = await fetch(`${root}/v1/chat/completions`, {
    method: "POST", headers,
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 32, stream: true }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const text = await r.text();
  if (!text.trimEnd().endsWith("data: [DONE]")) throw new Error("lost stream");
  return text.split("\n\n").filter((l) => l.startsWith("data: {")).length;
};
const t0 = performance.now();
const res = await Promise.allSettled(Array.from({ length: 256 }, stream));
const okN = res.filter((r) => r.status === "fulfilled").length;
const bad = res.filter((r) => r.status === "rejected").map((r) => String(r.reason.message || r.reason));
console.log(`\n256 concurrent streams: ${okN} complete, ${256 - okN} failed in ${((performance.now() - t0) / 1000).toFixed(2)} s` +
  (bad.length ? ` (${[...new Set(bad)].slice(0, 3).join("; ")})` : ""));
process.exit(okN === 256 ? 0 : 1);
