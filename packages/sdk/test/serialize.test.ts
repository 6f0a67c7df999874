// The serialisation rules of src/internal/serialize.ts (what a run's inputs/outputs look
// like) and the hide → redact → serialise pipeline of src/internal/payload.ts.
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  TRUNCATED_KEY,
  inputsFromArgs,
  outputsFromResult,
  serializeJson,
  type SerializeLimits,
} from '../src/internal/serialize.js';
import { HIDDEN, payloadJson } from '../src/internal/payload.js';
import { resetPayloadOptions, setPayloadOptions, type RedactInfo } from '../src/internal/state.js';
import { internalErrorCount } from '../src/internal/report.js';

// JSON.parse's own (any) result: assertions below read arbitrary paths of it
const parse = (value: unknown, limits?: SerializeLimits) =>
  JSON.parse(serializeJson(value, limits));

describe('serializeJson: primitives', () => {
  it('keeps JSON primitives and null', () => {
    expect(parse('a')).toBe('a');
    expect(parse(1.5)).toBe(1.5);
    expect(parse(true)).toBe(true);
    expect(parse(null)).toBe(null);
  });

  it('turns non-finite numbers into strings (JSON has no NaN/Infinity)', () => {
    expect(parse([NaN, Infinity, -Infinity])).toEqual(['NaN', 'Infinity', '-Infinity']);
  });

  it('writes BigInt as a decimal string, also beyond 2^53', () => {
    expect(parse({ n: 12345678901234567890n })).toEqual({ n: '12345678901234567890' });
    expect(parse(-5n)).toBe('-5');
  });

  it('top-level undefined becomes null; undefined is omitted in objects and null in arrays', () => {
    expect(serializeJson(undefined)).toBe('null');
    expect(parse({ a: undefined, b: 1 })).toEqual({ b: 1 });
    expect(parse([undefined, 1])).toEqual([null, 1]);
  });

  it('functions and symbols become readable strings', () => {
    function namedFn() {}
    expect(parse({ f: namedFn, g: () => 1, s: Symbol('sym'), t: Symbol() })).toEqual({
      f: '[Function namedFn]',
      g: '[Function g]',
      s: 'sym',
      t: 'Symbol()',
    });
    expect(parse([function () {}])).toEqual(['[Function anonymous]']);
  });

  it('boxed primitives become their primitive value', () => {
    expect(parse([new String('s'), new Number(2), new Boolean(false)])).toEqual(['s', 2, false]);
  });
});

describe('serializeJson: built-in objects', () => {
  it('Date → ISO string; an invalid Date → "Invalid Date"', () => {
    const d = new Date('2024-05-06T07:08:09.010Z');
    expect(parse({ d, bad: new Date(Number.NaN) })).toEqual({
      d: '2024-05-06T07:08:09.010Z',
      bad: 'Invalid Date',
    });
  });

  it('Error → {name, message, stack}, including subclasses', () => {
    class RateLimit extends Error {
      override name = 'RateLimit';
    }
    const out = parse({ e: new TypeError('bad type'), r: new RateLimit('slow down') });
    expect(out.e).toMatchObject({ name: 'TypeError', message: 'bad type' });
    expect(out.e.stack).toContain('bad type');
    expect(out.r).toMatchObject({ name: 'RateLimit', message: 'slow down' });
  });

  it('Error: an Error cause is kept; other own properties are not (they can hold credentials)', () => {
    const err = new Error('outer', { cause: new Error('inner') }) as Error & { config?: unknown };
    err.config = { headers: { authorization: 'Bearer secret' } };
    const out = parse(err);
    expect(out.cause).toMatchObject({ name: 'Error', message: 'inner' });
    expect(JSON.stringify(out)).not.toContain('secret');
    expect(Object.keys(out).sort()).toEqual(['cause', 'message', 'name', 'stack']);
    // a non-Error object cause is left out for the same reason; a primitive one is kept
    expect(parse(new Error('x', { cause: { token: 'secret' } })).cause).toBeUndefined();
    expect(parse(new Error('x', { cause: 'timeout' })).cause).toBe('timeout');
  });

  it('Error: a self-referencing cause is reported as circular, not followed forever', () => {
    const err = new Error('loop');
    (err as { cause?: unknown }).cause = err;
    expect(parse(err).cause).toBe('[Circular]');
  });

  it('Error: a long stack is cut', () => {
    const err = new Error('deep');
    err.stack = 'x'.repeat(10_000);
    const stack = parse(err).stack as string;
    expect(stack.startsWith('x'.repeat(4096))).toBe(true);
    expect(stack).toContain('…[truncated 5904 chars]');
  });

  it('Buffer → {type, byteLength, base64}', () => {
    expect(parse(Buffer.from('hello'))).toEqual({
      type: 'Buffer',
      byteLength: 5,
      base64: Buffer.from('hello').toString('base64'),
    });
  });

  it('TypedArray views respect their offset; ArrayBuffer and DataView work too', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const view = new Uint8Array(backing.buffer, 2, 3);
    expect(parse(view)).toEqual({
      type: 'Uint8Array',
      byteLength: 3,
      base64: Buffer.from([3, 4, 5]).toString('base64'),
    });
    expect(parse(new Float32Array(2))).toMatchObject({ type: 'Float32Array', byteLength: 8 });
    expect(parse(backing.buffer)).toMatchObject({ type: 'ArrayBuffer', byteLength: 6 });
    expect(parse(new DataView(backing.buffer, 1, 2))).toEqual({
      type: 'DataView',
      byteLength: 2,
      base64: Buffer.from([2, 3]).toString('base64'),
    });
  });

  it('binary data beyond 1 KiB is previewed and flagged', () => {
    const out = parse(Buffer.alloc(5000, 7));
    expect(out.byteLength).toBe(5000);
    expect(out.truncated).toBe(true);
    expect(Buffer.from(out.base64 as string, 'base64').length).toBe(1024);
  });

  it('Map with string keys → object; with other keys → [[k, v], …]', () => {
    expect(
      parse(
        new Map<string, unknown>([
          ['a', 1],
          ['b', new Date(0)],
        ]),
      ),
    ).toEqual({
      a: 1,
      b: '1970-01-01T00:00:00.000Z',
    });
    expect(
      parse(
        new Map<unknown, unknown>([
          [1, 'one'],
          [{ k: 2 }, 'two'],
        ]),
      ),
    ).toEqual([
      [1, 'one'],
      [{ k: 2 }, 'two'],
    ]);
    expect(parse(new Map())).toEqual({});
  });

  it('Set → array', () => {
    expect(parse(new Set([1, 'a', undefined]))).toEqual([1, 'a', null]);
  });

  it('RegExp → its source text', () => {
    expect(parse({ re: /a+b/gi })).toEqual({ re: '/a+b/gi' });
  });

  it('toJSON is honoured (URL, custom classes)', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return `${this.cents / 100} EUR`;
      }
    }
    expect(parse({ u: new URL('https://x.test/a?b=1'), m: new Money(150) })).toEqual({
      u: 'https://x.test/a?b=1',
      m: '1.5 EUR',
    });
  });

  it('toJSON returning the object itself does not read as a cycle', () => {
    const self = {
      a: 1,
      toJSON() {
        return this;
      },
    };
    expect(parse(self)).toEqual({ a: 1, toJSON: '[Function toJSON]' });
  });

  it('class instances keep their own enumerable fields', () => {
    class Doc {
      id = 7;
      #secret = 'hidden';
      get secret() {
        return this.#secret;
      }
    }
    expect(parse(new Doc())).toEqual({ id: 7 });
  });
});

describe('serializeJson: structure', () => {
  it('circular references become "[Circular]"', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    a.list = [a];
    expect(parse(a)).toEqual({ name: 'a', self: '[Circular]', list: ['[Circular]'] });
  });

  it('circular references through Map and Set', () => {
    const m = new Map<string, unknown>();
    m.set('me', m);
    const s = new Set<unknown>();
    s.add(s);
    expect(parse({ m, s })).toEqual({ m: { me: '[Circular]' }, s: ['[Circular]'] });
  });

  it('the same object twice (not a cycle) is written twice', () => {
    const shared = { v: 1 };
    expect(parse({ a: shared, b: shared, c: [shared, shared] })).toEqual({
      a: { v: 1 },
      b: { v: 1 },
      c: [{ v: 1 }, { v: 1 }],
    });
  });

  it('nesting deeper than 32 levels is cut with "[Depth limit]"', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    let node = parse(deep);
    let levels = 0;
    while (typeof node === 'object' && node !== null) {
      node = node.next;
      levels++;
    }
    expect(node).toBe('[Depth limit]');
    expect(levels).toBe(32);
  });

  it('a key named __proto__ is kept as data (objects and Maps)', () => {
    const obj = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as object;
    const out = serializeJson(obj);
    expect(JSON.parse(out)).toEqual(JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}'));
    expect(out).toContain('"__proto__"');
    expect(serializeJson(new Map([['__proto__', 'x']]))).toBe('{"__proto__":"x"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a throwing getter spoils only its own property', () => {
    const obj = {
      ok: 1,
      get bad(): never {
        throw new Error('boom');
      },
    };
    expect(parse(obj)).toEqual({ ok: 1, bad: '[Unserializable]' });
  });

  it('a throwing toJSON spoils only its own value', () => {
    const bad = {
      toJSON(): never {
        throw new Error('boom');
      },
    };
    expect(parse({ ok: 1, bad })).toEqual({ ok: 1, bad: '[Unserializable]' });
  });

  it('a hostile Proxy does not throw', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(serializeJson(hostile)).toBe('"[Unserializable]"');
    expect(parse([1, hostile])).toEqual([1, '[Unserializable]']);
  });

  it('null-prototype objects are serialised like plain ones', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.a = 1;
    expect(parse(o)).toEqual({ a: 1 });
  });
});

describe('serializeJson: size limits', () => {
  const small: SerializeLimits = { maxChars: 2000, maxStringChars: 100 };

  it('long strings are cut with a marker saying how much was dropped', () => {
    const out = parse({ s: 'a'.repeat(150) }, small);
    expect(out.s).toBe(`${'a'.repeat(100)}…[truncated 50 chars]`);
  });

  it('a cut never splits a surrogate pair', () => {
    const emoji = '😀'; // two UTF-16 code units
    const s = 'a'.repeat(99) + emoji + 'b'.repeat(10);
    const out = parse(s, small) as string;
    expect(out.startsWith('a'.repeat(99) + '…')).toBe(true);
    expect(out).toBe(`${'a'.repeat(99)}…[truncated 12 chars]`);
    expect(out.isWellFormed()).toBe(true);
  });

  it('JSON longer than maxChars becomes the truncation marker with exact length and a preview', () => {
    const value = Array.from({ length: 100 }, (_, i) => `item-${i}-${'x'.repeat(50)}`);
    const full = JSON.stringify(value);
    const text = serializeJson(value, small);
    expect(text.length).toBeLessThanOrEqual(small.maxChars);
    const out = JSON.parse(text);
    expect(out[TRUNCATED_KEY]).toBe(true);
    expect(out.length).toBe(full.length);
    expect(full.startsWith(out.preview as string)).toBe(true);
    expect((out.preview as string).length).toBeGreaterThan(500);
  });

  it('the marker itself stays within maxChars even when the preview needs escaping', () => {
    const limits = { maxChars: 300, maxStringChars: 10_000 };
    const text = serializeJson({ q: '"'.repeat(1000) }, limits);
    expect(text.length).toBeLessThanOrEqual(300);
    const out = JSON.parse(text);
    expect(out[TRUNCATED_KEY]).toBe(true);
    expect(typeof out.preview).toBe('string');
    expect((out.preview as string).length).toBeGreaterThan(0);
  });

  it('a value exactly at maxChars is kept', () => {
    const value = 'y'.repeat(98); // JSON: 100 chars with quotes
    expect(serializeJson(value, { maxChars: 100, maxStringChars: 1000 })).toBe(
      JSON.stringify(value),
    );
  });

  it('stops walking huge values early and says the length is a lower bound', () => {
    const huge = Array.from({ length: 200_000 }, (_, i) => ({ i, text: 'lorem ipsum dolor' }));
    const started = performance.now();
    const text = serializeJson(huge, small);
    const elapsed = performance.now() - started;
    const out = JSON.parse(text);
    expect(out[TRUNCATED_KEY]).toBe(true);
    expect(out.length).toBeUndefined();
    expect(out.min_length).toBeGreaterThan(small.maxChars);
    expect(JSON.stringify(huge.slice(0, 50)).startsWith(out.preview as string)).toBe(true);
    // a full walk of 200k objects takes far longer than stopping after ~8 KB (4 × maxChars)
    expect(elapsed).toBeLessThan(200);
  });

  it('exponentially shared structure (a DAG, not a cycle) is bounded', () => {
    let node: unknown[] = ['leaf'];
    for (let i = 0; i < 40; i++) node = [node, node]; // 2^40 leaves if fully expanded
    const out = JSON.parse(serializeJson(node, small));
    expect(out[TRUNCATED_KEY]).toBe(true);
  });

  it('an object of many undefined properties is not mistaken for a large one', () => {
    const sparse: Record<string, undefined> = {};
    for (let i = 0; i < 5000; i++) sparse[`k${i}`] = undefined;
    expect(serializeJson(sparse, small)).toBe('{}');
  });

  it('default limits: 256 KiB of JSON, 64 KiB per string', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxChars: 262_144, maxStringChars: 65_536 });
    const out = parse({ s: 'z'.repeat(70_000) });
    expect(out.s).toContain('…[truncated 4464 chars]');
  });
});

describe('inputsFromArgs / outputsFromResult', () => {
  it('a single plain-object argument is the inputs', () => {
    const arg = { question: 'q', k: 3 };
    expect(inputsFromArgs([arg])).toBe(arg);
    const bare = Object.create(null) as Record<string, unknown>;
    expect(inputsFromArgs([bare])).toBe(bare);
  });

  it('a single other argument is wrapped as {input}', () => {
    expect(inputsFromArgs(['q'])).toEqual({ input: 'q' });
    expect(inputsFromArgs([[1, 2]])).toEqual({ input: [1, 2] });
    expect(inputsFromArgs([null])).toEqual({ input: null });
    const date = new Date(0);
    expect(inputsFromArgs([date])).toEqual({ input: date });
    class Query {
      q = 'x';
    }
    expect(inputsFromArgs([new Query()])).toEqual({ input: new Query() });
  });

  it('no arguments → {}; several → {args: [...]} (positional, LangSmith-compatible)', () => {
    expect(inputsFromArgs([])).toEqual({});
    expect(inputsFromArgs(['a', { b: 1 }, undefined])).toEqual({
      args: ['a', { b: 1 }, undefined],
    });
    expect(JSON.parse(serializeJson(inputsFromArgs(['a', undefined])))).toEqual({
      args: ['a', null],
    });
  });

  it('a plain-object result is the outputs; anything else is {output}', () => {
    const res = { answer: 'a' };
    expect(outputsFromResult(res)).toBe(res);
    expect(outputsFromResult('a')).toEqual({ output: 'a' });
    expect(outputsFromResult(undefined)).toEqual({ output: undefined });
    expect(outputsFromResult([1])).toEqual({ output: [1] });
    expect(serializeJson(outputsFromResult(undefined))).toBe('{}');
  });
});

describe('payloadJson: hide → redact → serialise', () => {
  const info: RedactInfo = { kind: 'inputs', runType: 'chain', name: 'fn' };
  const hidden = JSON.stringify(HIDDEN);
  afterEach(() => resetPayloadOptions());

  it('serialises with the default options', () => {
    expect(payloadJson({ a: 1 }, info)).toBe('{"a":1}');
  });

  it('hideInputs / hideOutputs: true hides only that side', () => {
    setPayloadOptions({ hideInputs: true });
    expect(payloadJson({ a: 1 }, info)).toBe(hidden);
    expect(payloadJson({ a: 1 }, { ...info, kind: 'outputs' })).toBe('{"a":1}');
    resetPayloadOptions();
    setPayloadOptions({ hideOutputs: true });
    expect(payloadJson({ a: 1 }, info)).toBe('{"a":1}');
    expect(payloadJson({ a: 1 }, { ...info, kind: 'outputs' })).toBe(hidden);
  });

  it('hide as a function decides per value and sees the run info', () => {
    const seen: RedactInfo[] = [];
    setPayloadOptions({
      hideInputs: (value, i) => {
        seen.push(i);
        return (value as { secret?: boolean }).secret === true;
      },
    });
    expect(payloadJson({ secret: true }, info)).toBe(hidden);
    expect(payloadJson({ secret: false }, info)).toBe('{"secret":false}');
    expect(seen).toEqual([info, info]);
  });

  it('a throwing hide callback hides (fail closed) and is counted', () => {
    const before = internalErrorCount();
    setPayloadOptions({
      hideOutputs: () => {
        throw new Error('bug');
      },
    });
    expect(payloadJson({ a: 1 }, { ...info, kind: 'outputs' })).toBe(hidden);
    expect(internalErrorCount()).toBe(before + 1);
  });

  it('redact replaces the value before serialisation', () => {
    setPayloadOptions({
      redact: (value, i) =>
        i.kind === 'inputs' ? { ...(value as object), apiKey: '[redacted]' } : value,
    });
    expect(JSON.parse(payloadJson({ q: 'x', apiKey: 'sk-1' }, info))).toEqual({
      q: 'x',
      apiKey: '[redacted]',
    });
  });

  it('a throwing redact hides the payload (fail closed) and is counted', () => {
    const before = internalErrorCount();
    setPayloadOptions({
      redact: () => {
        throw new Error('bug');
      },
    });
    expect(payloadJson({ apiKey: 'sk-1' }, info)).toBe(hidden);
    expect(internalErrorCount()).toBe(before + 1);
  });

  it('an async redact (unsupported) hides the payload instead of writing {}', async () => {
    const before = internalErrorCount();
    setPayloadOptions({ redact: () => Promise.reject(new Error('async bug')) });
    expect(payloadJson({ apiKey: 'sk-1' }, info)).toBe(hidden);
    expect(internalErrorCount()).toBe(before + 1);
    // its rejection was observed: nothing reaches the host as an unhandled rejection
    await new Promise((r) => setTimeout(r, 10));
  });

  it('hide wins over redact (redact is not even called)', () => {
    let called = false;
    setPayloadOptions({
      hideInputs: true,
      redact: (v) => {
        called = true;
        return v;
      },
    });
    expect(payloadJson({ a: 1 }, info)).toBe(hidden);
    expect(called).toBe(false);
  });

  it('payload limits come from the options', () => {
    setPayloadOptions({ limits: { maxChars: 1000, maxStringChars: 5 } });
    expect(JSON.parse(payloadJson({ s: 'abcdefgh' }, info))).toEqual({
      s: 'abcde…[truncated 3 chars]',
    });
  });
});
