import { describe, expect, it } from 'vitest';
import { parseRunsMultipart } from '../../../../src/modules/ingest/langsmith/multipart.js';
import { applyOpsInOrder } from '../../../../src/modules/ingest/langsmith/langsmith-map.js';
import { multipartToWriteBatch } from '../../../../src/modules/ingest/langsmith/langsmith-batch.js';
import { LoupeError } from '../../../../src/errors.js';
import { BOUNDARY, MULTIPART_TYPE, buildMultipart, type PartSpec } from './helpers.js';

const ROOT = '01a21b93-47f2-7000-8000-01efe8cb9a5c';
const CHILD = '01a21b93-4a5e-7000-8000-0123456789ab';
const FB = '01a21b95-6298-7038-8000-000000000001';
const ROOT_DOTTED = `20261127T055606770001Z${ROOT}`;
const CHILD_DOTTED = `${ROOT_DOTTED}.20261127T055607390004Z${CHILD}`;

const rootPost = {
  session_name: 'probe',
  id: ROOT,
  name: 'parent-chain',
  start_time: '2026-11-27T05:56:06.770001Z',
  run_type: 'chain',
  child_runs: [],
  trace_id: ROOT,
  dotted_order: ROOT_DOTTED,
  tags: ['a'],
};
const rootPatch = {
  name: 'parent-chain',
  run_type: 'chain',
  start_time: '2026-11-27T05:56:06.770001Z',
  end_time: 1795758967391,
  dotted_order: ROOT_DOTTED,
  trace_id: ROOT,
  tags: ['b'],
  session_name: 'probe',
  id: ROOT,
};

async function parse(parts: PartSpec[], limits = {}) {
  return parseRunsMultipart(buildMultipart(parts), MULTIPART_TYPE, limits);
}

async function rejection(promise: Promise<unknown>): Promise<LoupeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoupeError);
  return err as LoupeError;
}

describe('parseRunsMultipart', () => {
  it('assembles main + field parts per op, in body order', async () => {
    const ops = await parse([
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.inputs`, body: { question: 'q' } },
      { name: `post.${ROOT}.extra`, body: { metadata: { user_id: 'u' } } },
      { name: `post.${ROOT}.serialized`, body: {} },
      { name: `attachment.${ROOT}.notes`, contentType: 'text/plain; length=5', body: 'hello' },
      { name: `patch.${ROOT}`, body: rootPatch },
      { name: `patch.${ROOT}.outputs`, body: { answer: 'a' } },
      { name: `patch.${ROOT}.error`, body: JSON.stringify('Error: x') },
      {
        name: `feedback.${FB}`,
        body: { id: FB, run_id: ROOT, trace_id: ROOT, key: 'k', score: 1 },
      },
    ]);
    expect(ops.warnings).toEqual([]);
    expect(ops.runs.map((o) => [o.kind, o.id])).toEqual([
      ['post', ROOT],
      ['patch', ROOT],
    ]);
    expect(ops.runs[0]!.run).toMatchObject({
      name: 'parent-chain',
      inputs: { question: 'q' },
      serialized: {},
    });
    expect(ops.runs[1]!.run).toMatchObject({ outputs: { answer: 'a' }, error: 'Error: x' });
    expect(ops.attachments).toEqual([
      { runId: ROOT, name: 'notes', contentType: 'text/plain', data: Buffer.from('hello') },
    ]);
    expect(ops.feedback).toHaveLength(1);
    expect(ops.feedback[0]).toMatchObject({ id: FB, feedback: { key: 'k' } });
  });

  it('post + patch of one id in one body (compressed path): patch applied after post', async () => {
    const ops = await parse([
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.inputs`, body: { question: 'q' } },
      { name: `patch.${ROOT}`, body: rootPatch },
      { name: `patch.${ROOT}.outputs`, body: { answer: 'a' } },
    ]);
    const [run, ...rest] = applyOpsInOrder(ops.runs);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({
      id: ROOT,
      traceId: ROOT,
      parentRunId: null,
      inputs: { question: 'q' }, // the patch carries no inputs → kept
      outputs: { answer: 'a' },
      tags: ['a', 'b'],
      projectName: 'probe',
    });
    expect(run!.startTime!.toISOString()).toBe('2026-11-27T05:56:06.770Z');
    expect(run!.endTime!.getTime()).toBe(1795758967391);
  });

  it('patch before post (and a patch without any post) still upserts', async () => {
    const ops = await parse([
      { name: `patch.${ROOT}`, body: rootPatch },
      { name: `patch.${ROOT}.outputs`, body: { answer: 'a' } },
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.inputs`, body: { question: 'q' } },
      {
        name: `patch.${CHILD}`,
        body: {
          id: CHILD,
          trace_id: ROOT,
          parent_run_id: ROOT,
          dotted_order: CHILD_DOTTED,
          end_time: 1795758967391,
        },
      },
    ]);
    const runs = applyOpsInOrder(ops.runs);
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({
      id: ROOT,
      inputs: { question: 'q' },
      outputs: { answer: 'a' },
    });
    expect(runs[0]!.endTime!.getTime()).toBe(1795758967391); // the later post carries no end_time
    expect(runs[1]).toMatchObject({
      id: CHILD,
      traceId: ROOT,
      parentRunId: ROOT,
      dottedOrder: CHILD_DOTTED,
    });
    expect(runs[1]!.name).toBeUndefined();
  });

  it('duplicate delivery is idempotent', async () => {
    const parts: PartSpec[] = [
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.inputs`, body: { question: 'q' } },
      { name: `patch.${ROOT}`, body: rootPatch },
    ];
    const once = applyOpsInOrder((await parse(parts)).runs);
    const twiceInOneBody = await parse([...parts, ...parts]);
    expect(twiceInOneBody.runs).toHaveLength(4);
    expect(applyOpsInOrder(twiceInOneBody.runs)).toEqual(once);
  });

  it('a field part before its main part joins the same op', async () => {
    const ops = await parse([
      { name: `post.${ROOT}.inputs`, body: { question: 'q' } },
      { name: `post.${ROOT}`, body: { ...rootPost, inputs: { stale: true } } },
    ]);
    expect(ops.runs).toHaveLength(1);
    expect(ops.runs[0]!.run.inputs).toEqual({ question: 'q' });
  });

  it('keeps attachment bytes exact (field path and file path) and decodes UTF-8 JSON', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const ops = await parse([
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.inputs`, body: { text: 'café ☕ 日本' } },
      {
        name: `post.${ROOT}.outputs`,
        contentType: 'application/json; charset=utf-8',
        body: { text: 'naïve ☕' },
      },
      {
        name: `post.${ROOT}.extra`,
        contentType: 'application/json; charset=utf-8',
        body: { text: 'é only' },
      },
      {
        name: `attachment.${ROOT}.img`,
        contentType: `image/png; length=${bytes.length}`,
        body: bytes,
      },
      { name: `attachment.${ROOT}.bin`, contentType: 'application/octet-stream', body: bytes },
      {
        name: `attachment.${ROOT}.file`,
        contentType: 'image/jpeg',
        filename: 'x.jpg',
        body: bytes,
      },
    ]);
    expect(ops.runs[0]!.run).toMatchObject({
      inputs: { text: 'café ☕ 日本' },
      outputs: { text: 'naïve ☕' },
      extra: { text: 'é only' },
    });
    expect(ops.attachments.map((a) => [a.name, a.contentType, a.data.equals(bytes)])).toEqual([
      ['img', 'image/png', true],
      ['bin', 'application/octet-stream', true],
      ['file', 'image/jpeg', true],
    ]);
  });

  it('rejects malformed JSON naming the part', async () => {
    const err = await rejection(
      parse([
        { name: `post.${ROOT}`, body: rootPost },
        { name: `post.${ROOT}.inputs`, body: '{"question": ' },
      ]),
    );
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain(`post.${ROOT}.inputs`);
    expect(err.message).toContain('not valid JSON');
  });

  it('rejects a main part that is not an object, a bad id and an id mismatch', async () => {
    const notObject = await rejection(parse([{ name: `post.${ROOT}`, body: '[1]' }]));
    expect(notObject.message).toContain('must be a JSON object');
    const badId = await rejection(parse([{ name: 'post.not-a-uuid', body: rootPost }]));
    expect(badId.message).toMatch(/post\.not-a-uuid.*not a UUID/);
    const mismatch = await rejection(parse([{ name: `post.${CHILD}`, body: rootPost }]));
    expect(mismatch.message).toContain('does not match the part name');
  });

  it('skips unknown parts with a warning by default, rejects them when asked', async () => {
    const parts: PartSpec[] = [
      { name: `post.${ROOT}`, body: rootPost },
      { name: `post.${ROOT}.future_field`, body: { x: 1 } },
      { name: 'surprise', body: { x: 1 } },
    ];
    const ops = await parse(parts);
    expect(ops.runs).toHaveLength(1);
    expect(ops.runs[0]!.run).not.toHaveProperty('future_field');
    expect(ops.warnings).toHaveLength(2);
    expect(ops.warnings[0]).toContain(`post.${ROOT}.future_field`);
    expect(ops.warnings[1]).toContain('"surprise"');

    const err = await rejection(parse(parts, { unknownParts: 'reject' }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain(`post.${ROOT}.future_field`);
  });

  it('empty and zero-part bodies', async () => {
    const empty = await rejection(parseRunsMultipart(Buffer.alloc(0), MULTIPART_TYPE));
    expect(empty.statusCode).toBe(400);
    expect(empty.message).toContain('empty multipart body');
    const none = await parseRunsMultipart(Buffer.from(`--${BOUNDARY}--\r\n`), MULTIPART_TYPE);
    expect(none).toEqual({ runs: [], attachments: [], feedback: [], warnings: [] });
  });

  it('truncated bodies, bad content types and missing boundaries', async () => {
    const truncated = buildMultipart([{ name: `post.${ROOT}`, body: rootPost }], { close: false });
    const t = await rejection(
      parseRunsMultipart(truncated.subarray(0, truncated.length - 20), MULTIPART_TYPE),
    );
    expect(t.code).toBe('LOUPE_ERR_UNDECODABLE_BODY');
    expect(t.message).toContain('malformed multipart body');
    const json = await rejection(parseRunsMultipart(Buffer.from('{}'), 'application/json'));
    expect(json.statusCode).toBe(415);
    const noBoundary = await rejection(parseRunsMultipart(Buffer.from('x'), 'multipart/form-data'));
    expect(noBoundary.statusCode).toBe(400);
    expect(noBoundary.message).toContain('Boundary');
  });

  it('enforces part count and part size limits', async () => {
    const many = Array.from({ length: 6 }, (): PartSpec => ({
      name: `post.${ROOT}.events`,
      body: [],
    }));
    const count = await rejection(parse(many, { maxParts: 5 }));
    expect(count.statusCode).toBe(400);
    expect(count.message).toContain('too many multipart parts: the limit is 5');
    await expect(parse(many.slice(0, 5), { maxParts: 5 })).resolves.toBeDefined();

    const big = { question: 'x'.repeat(2000) };
    const size = await rejection(
      parse([{ name: `post.${ROOT}.inputs`, body: big }], { maxPartBytes: 1000 }),
    );
    expect(size.statusCode).toBe(413);
    expect(size.message).toContain(`post.${ROOT}.inputs`);
    const file = await rejection(
      parse(
        [
          {
            name: `attachment.${ROOT}.big`,
            contentType: 'application/octet-stream',
            body: Buffer.alloc(2000),
          },
        ],
        { maxPartBytes: 1000 },
      ),
    );
    expect(file.statusCode).toBe(413);
    expect(file.message).toContain(`attachment.${ROOT}.big`);
  });

  it('multipartToWriteBatch maps runs, attachments and feedback together', async () => {
    const ops = await parse([
      { name: `post.${ROOT}`, body: rootPost },
      { name: `attachment.${ROOT}.notes`, contentType: 'text/plain', body: 'hi' },
      {
        name: `feedback.${FB}`,
        body: { run_id: ROOT, key: 'k', score: false, feedbackConfig: { type: 'categorical' } },
      },
    ]);
    const batch = multipartToWriteBatch(ops);
    expect(batch.runs.map((r) => r.id)).toEqual([ROOT]);
    expect(batch.attachments).toHaveLength(1);
    expect(batch.feedback).toEqual([
      { id: FB, runId: ROOT, key: 'k', score: 0, feedbackConfig: { type: 'categorical' } },
    ]);
  });

  it('validation errors from the mapper name the part, run and field', async () => {
    const ops = await parse([{ name: `post.${ROOT}`, body: { ...rootPost, run_type: 'banana' } }]);
    expect(() => applyOpsInOrder(ops.runs)).toThrow(
      new RegExp(`post\\.${ROOT}: run ${ROOT}: field 'run_type' must be one of llm, chain`),
    );
  });
});
