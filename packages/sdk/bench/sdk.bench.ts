// Per-call cost of tracing one LLM pipeline step, in one process, no network:
//
//   (a) Loupe: `traceable` function calling a `wrapOpenAI` client
//   (b) the same work hand-instrumented with bare OTel spans carrying the same attributes
//   (c) the official `langsmith` SDK: its `traceable` + `wrapOpenAI` (langsmith/wrappers)
//   (d) the same work untraced
//
// Every variant runs the same function around an `openai` client whose `fetch` returns a
// canned chat completion. (a) and (b) share one NodeTracerProvider with one
// BatchSpanProcessor (OTel defaults, stated below) and a no-op exporter; (c) uses a
// LangSmith Client whose fetch answers 200 without sending anything. After a warm-up,
// the variants run in paired rounds (see phase()): phase 1 compares (a), (b), (d) before
// LangSmith ever runs in the process, phase 2 compares (a), (c), (d). The loop yields to
// the event loop every few calls so the span processor (and LangSmith's batcher) keep up
// as they would in a server. Heap growth: 100k calls per variant between two forced GCs,
// after the variant's pipeline was flushed.
//
//   npm run bench:sdk            (root script: node --conditions=loupe-source --import tsx …)
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SpanKind, context, trace, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node';
import OpenAI from 'openai';
import { Client as LangSmithClient } from 'langsmith';
import { traceable as lsTraceable } from 'langsmith/traceable';
import { wrapOpenAI as lsWrapOpenAI } from 'langsmith/wrappers';
// the package as users get it: its built dist/ (the script builds it first)
import { traceable, wrapOpenAI } from '@loupe/sdk';

const WARMUP_CALLS = 5_000;
const ROUNDS = 100;
const LS_ROUNDS = 40;
const ROUND_CALLS = 200;
const HEAP_CALLS = 100_000;
/** calls between event-loop turns (timers, the processor's export, LangSmith's drain) */
const YIELD_EVERY = 64;
const BSP = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

// ---- the stubbed OpenAI transport ----

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_735_689_600,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Paris is the capital of France.', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 23,
    completion_tokens: 7,
    total_tokens: 30,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_bench',
});
const HEADERS = { 'content-type': 'application/json', 'x-request-id': 'req_bench' };
const stubFetch = (): Promise<Response> =>
  Promise.resolve(new Response(COMPLETION, { status: 200, headers: HEADERS }));
const newClient = () =>
  new OpenAI({
    baseURL: 'https://api.openai.com/v1',
    apiKey: 'sk-bench',
    maxRetries: 0,
    fetch: stubFetch,
  });

const SYSTEM = 'You are a terse geography assistant.';
const request = (question: string) => ({
  model: 'gpt-4o-mini',
  temperature: 0.2,
  max_tokens: 50,
  messages: [
    { role: 'system' as const, content: SYSTEM },
    { role: 'user' as const, content: question },
  ],
});

// ---- OTel pipeline shared by (a) and (b) ----

class NoopExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
const noop = new NoopExporter();
const processor = new BatchSpanProcessor(noop, BSP);
// a second processor only during the attribute check below
const inspector = new InMemorySpanExporter();
let inspecting = false;
const provider = new NodeTracerProvider({
  spanProcessors: [
    processor,
    {
      onStart: () => undefined,
      onEnd: (span: ReadableSpan) => {
        if (inspecting) inspector.export([span], () => undefined);
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  ],
});
provider.register();
const tracer = trace.getTracer('bench-hand-rolled');

// (a) Loupe
const loupeClient = wrapOpenAI(newClient());
const pipelineA = traceable(
  async (question: string) => {
    const res = await loupeClient.chat.completions.create(request(question));
    return res.choices[0]?.message.content ?? '';
  },
  { name: 'answer' },
);

// (b) hand-rolled OTel: the attributes (a) produces, computed with plain JSON.stringify
const plainClient = newClient();
async function pipelineB(question: string): Promise<string> {
  return tracer.startActiveSpan(
    'answer',
    {
      attributes: {
        'loupe.run_type': 'chain',
        'loupe.inputs': JSON.stringify({ input: question }),
      },
    },
    async (outer) => {
      try {
        const params = request(question);
        const attributes: Attributes = {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'loupe.run_type': 'llm',
          'gen_ai.request.model': params.model,
          'server.address': 'api.openai.com',
          'server.port': 443,
          'gen_ai.request.temperature': params.temperature,
          'gen_ai.request.max_tokens': params.max_tokens,
          'gen_ai.input.messages': JSON.stringify(
            params.messages.map((m) => ({
              role: m.role,
              parts: [{ type: 'text', content: m.content }],
            })),
          ),
        };
        const span = tracer.startSpan('chat gpt-4o-mini', { kind: SpanKind.CLIENT, attributes });
        const res = await context.with(trace.setSpan(context.active(), span), () =>
          plainClient.chat.completions.create(params),
        );
        const choice = res.choices[0]!;
        span.setAttributes({
          'gen_ai.usage.input_tokens': res.usage!.prompt_tokens,
          'gen_ai.usage.output_tokens': res.usage!.completion_tokens,
          'gen_ai.usage.cache_read.input_tokens': res.usage!.prompt_tokens_details!.cached_tokens!,
          'gen_ai.usage.reasoning.output_tokens':
            res.usage!.completion_tokens_details!.reasoning_tokens!,
          'gen_ai.response.id': res.id,
          'gen_ai.response.model': res.model,
          'openai.response.system_fingerprint': res.system_fingerprint!,
          'openai.response.service_tier': res.service_tier!,
          'gen_ai.response.finish_reasons': [choice.finish_reason],
          'gen_ai.output.messages': JSON.stringify([
            {
              role: choice.message.role,
              parts: [{ type: 'text', content: choice.message.content }],
              finish_reason: choice.finish_reason,
            },
          ]),
        });
        span.end();
        const answer = choice.message.content ?? '';
        outer.setAttribute('loupe.outputs', JSON.stringify({ output: answer }));
        return answer;
      } finally {
        outer.end();
      }
    },
  );
}

// (c) LangSmith, its transport answered locally
let lsRequests = 0;
const lsFetch = ((input: string | URL | Request) => {
  lsRequests++;
  const url = String(input instanceof Request ? input.url : input);
  const body = url.endsWith('/info')
    ? JSON.stringify({ version: '0.12.0', batch_ingest_config: { use_multipart_endpoint: true } })
    : '{}';
  return Promise.resolve(
    new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
  );
}) as typeof fetch;
const lsClient = new LangSmithClient({
  apiUrl: 'https://langsmith.invalid',
  apiKey: 'lsv2-bench',
  fetchImplementation: lsFetch,
});
const lsOpenAI = lsWrapOpenAI(newClient(), { client: lsClient, tracingEnabled: true });
const pipelineC = lsTraceable(
  async (question: string) => {
    const res = await lsOpenAI.chat.completions.create(request(question));
    return res.choices[0]?.message.content ?? '';
  },
  { name: 'answer', client: lsClient, tracingEnabled: true },
);

// (d) untraced
const untracedClient = newClient();
async function pipelineD(question: string): Promise<string> {
  const res = await untracedClient.chat.completions.create(request(question));
  return res.choices[0]?.message.content ?? '';
}

interface Variant {
  key: 'a' | 'b' | 'c' | 'd';
  label: string;
  run: (q: string) => Promise<string>;
  flush: () => Promise<void>;
}

const flushOtel = () => provider.forceFlush();
const variants: Variant[] = [
  {
    key: 'a',
    label: 'Loupe traceable + wrapOpenAI',
    run: pipelineA,
    flush: flushOtel,
  },
  {
    key: 'b',
    label: 'bare OTel spans, same attributes',
    run: pipelineB,
    flush: flushOtel,
  },
  {
    key: 'c',
    label: 'langsmith traceable + wrapOpenAI',
    run: pipelineC,
    flush: () => lsClient.awaitPendingTraceBatches(),
  },
  { key: 'd', label: 'untraced', run: pipelineD, flush: () => Promise.resolve() },
];

async function loop(v: Variant, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) {
    await v.run('What is the capital of France?');
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
  }
}

/** (a) and (b) must emit the same spans with the same attribute keys, or (b) is no baseline. */
async function checkSameAttributes(): Promise<string> {
  inspecting = true;
  await pipelineA('check');
  const shape = (spans: ReadableSpan[]) =>
    spans.map((s): [string, string[]] => [s.name, Object.keys(s.attributes).sort()]);
  const a = shape(inspector.getFinishedSpans());
  inspector.reset();
  await pipelineB('check');
  const b = shape(inspector.getFinishedSpans());
  inspecting = false;
  if (JSON.stringify(a) !== JSON.stringify(b))
    throw new Error(`(a) and (b) differ:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
  return `${a.length} spans, ${a.map(([, keys]) => keys.length).join(' + ')} attributes`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function heapGrowth(v: Variant): Promise<number> {
  // settle first: lazily built caches and the previous variant's garbage are not growth
  await loop(v, 2_000);
  await v.flush();
  await yieldToLoop();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  await loop(v, HEAP_CALLS);
  await v.flush();
  await yieldToLoop();
  gc();
  gc();
  return process.memoryUsage().heapUsed - before;
}

type Key = Variant['key'];
const byKey = (key: Key): Variant => variants.find((v) => v.key === key)!;

interface PhaseResult {
  /** per-call medians: wall and CPU, and their overhead over (d) */
  wall: Record<string, number>;
  cpu: Record<string, number>;
  wallOver: Record<string, number>;
  cpuOver: Record<string, number>;
}

/**
 * Paired rounds: every round runs the phase's variants back to back (rotating the
 * order). A variant's round is timed up to the end of its own flush, so background work
 * (the span processor's export, LangSmith's batching and serialisation worker) is charged
 * to the variant that caused it. The overhead of x is taken within the round as x − (d),
 * so slow drifts (other processes on a shared machine, GC debt) cancel out; figures are
 * medians over rounds. Wall time is what the caller waits; CPU time (all threads of the
 * process) is what it costs.
 */
async function phase(keys: Key[], rounds: number): Promise<PhaseResult> {
  const phaseVariants = keys.map(byKey);
  const samples = (): Record<string, number[]> => Object.fromEntries(keys.map((k) => [k, []]));
  const wall = samples();
  const cpu = samples();
  const wallOver = samples();
  const cpuOver = samples();
  for (let r = 0; r < rounds; r++) {
    const w: Record<string, number> = {};
    const c: Record<string, number> = {};
    for (let k = 0; k < phaseVariants.length; k++) {
      const v = phaseVariants[(r + k) % phaseVariants.length]!;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await loop(v, ROUND_CALLS);
      await v.flush();
      w[v.key] = Number(process.hrtime.bigint() - t0) / ROUND_CALLS;
      const used = process.cpuUsage(c0);
      c[v.key] = ((used.user + used.system) * 1000) / ROUND_CALLS;
    }
    for (const key of keys) {
      wall[key]!.push(w[key]!);
      cpu[key]!.push(c[key]!);
      wallOver[key]!.push(w[key]! - w.d!);
      cpuOver[key]!.push(c[key]! - c.d!);
    }
  }
  const med = (m: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(m).map(([k, xs]) => [k, median(xs)]));
  return { wall: med(wall), cpu: med(cpu), wallOver: med(wallOver), cpuOver: med(cpuOver) };
}

function printPhase(title: string, res: PhaseResult, keys: Key[]): void {
  const n = (x: number | undefined) => (x ?? NaN).toFixed(0).padStart(8);
  out();
  out(title);
  out(`${' '.repeat(42)}wall ns/call  overhead   CPU ns/call  overhead`);
  for (const key of keys) {
    const v = byKey(key);
    const o = (x: Record<string, number>) => (key === 'd' ? ' '.repeat(8) : n(x[key]));
    out(
      `  (${key}) ${v.label.padEnd(34)} ${n(res.wall[key])}  ${o(res.wallOver)}      ${n(res.cpu[key])}  ${o(res.cpuOver)}`,
    );
  }
}

function printRatio(name: string, res: PhaseResult, x: Key, y: Key, goal: string): void {
  const r = (m: Record<string, number>) => (m[x]! / m[y]!).toFixed(2);
  out(
    `  ${name}  wall: per call ${r(res.wall)}, overhead ${r(res.wallOver)}   CPU: per call ${r(res.cpu)}, overhead ${r(res.cpuOver)}   (goal ${goal})`,
  );
}

async function main(): Promise<void> {
  out(`@loupe/sdk bench — node ${process.version}, ${process.platform}/${process.arch}`);
  out(`BatchSpanProcessor ${JSON.stringify(BSP)} + no-op exporter for (a) and (b)`);
  out(`(a)/(b) span check: ${await checkSameAttributes()}`);
  out('overhead = x − (d) within each round; ratios of overheads compare tracing cost only');

  // Phase 1 without LangSmith: its rounds leave large GC debt (old-space garbage) that
  // lands in whatever runs next and drowned the (a)/(b) difference in noise.
  for (const key of ['a', 'b', 'd'] as const) await loop(byKey(key), WARMUP_CALLS);
  const p1 = await phase(['a', 'b', 'd'], ROUNDS);
  printPhase(
    `phase 1 — medians of ${ROUNDS} paired rounds × ${ROUND_CALLS} calls per variant (after ${WARMUP_CALLS} warm-up calls each)`,
    p1,
    ['a', 'b', 'd'],
  );
  out();
  printRatio('a/b', p1, 'a', 'b', '≤ 1.3');

  gc();
  await loop(byKey('c'), WARMUP_CALLS);
  await byKey('c').flush();
  const p2 = await phase(['a', 'c', 'd'], LS_ROUNDS);
  printPhase(
    `phase 2 — medians of ${LS_ROUNDS} paired rounds × ${ROUND_CALLS} calls per variant, with LangSmith (after ${WARMUP_CALLS} warm-up calls)`,
    p2,
    ['a', 'c', 'd'],
  );
  out();
  printRatio('a/c', p2, 'a', 'c', '≤ 0.3');

  out();
  out(
    `heap growth over ${HEAP_CALLS.toLocaleString('en')} calls (after flush + GC; ±0.5 MiB is noise):`,
  );
  for (const v of variants) {
    const grown = await heapGrowth(v);
    out(`  (${v.key}) ${v.label.padEnd(34)} ${(grown / 1024).toFixed(0).padStart(8)} KiB`);
  }
  out();
  out(
    `spans exported by (a)+(b): ${noop.exported.toLocaleString('en')}; LangSmith requests: ${lsRequests.toLocaleString('en')}`,
  );
  await provider.shutdown();
}

await main();
