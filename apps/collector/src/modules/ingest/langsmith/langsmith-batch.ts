/**
 * JSON ingest bodies (`POST /runs/batch`, `POST /runs`, `PATCH /runs/{id}`, `POST /feedback`)
 * and the multipart result → Loupe writes.
 */
import { badRequest } from '../../../errors.js';
import type {
  AttachmentWrite,
  FeedbackWrite,
  JsonObject,
  RunUpsert,
  WriteBatch,
} from '../run-upsert.js';
import {
  applyOpsInOrder,
  mapFeedback,
  mapRunCreate,
  mapRunUpdate,
  type RunOpLike,
} from './langsmith-map.js';
import type { MultipartOps } from './multipart.js';
import { describe, isJsonObject } from './langsmith-values.js';

function listOf(body: JsonObject, key: 'post' | 'patch'): JsonObject[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw badRequest(`/runs/batch: '${key}' must be an array; got ${describe(v)}`);
  return v.map((item, i) => {
    if (!isJsonObject(item))
      throw badRequest(`/runs/batch ${key}[${i}] must be a JSON object; got ${describe(item)}`);
    return item;
  });
}

function batchOps(body: unknown): RunOpLike[] {
  if (!isJsonObject(body)) {
    throw badRequest(
      `/runs/batch body must be a JSON object {post: [...], patch: [...]}; got ${describe(body)}`,
    );
  }
  const ops: RunOpLike[] = [];
  for (const kind of ['post', 'patch'] as const) {
    listOf(body, kind).forEach((run, i) => {
      const id = run.id;
      if (typeof id !== 'string') {
        throw badRequest(
          `/runs/batch ${kind}[${i}]: field 'id' must be a UUID; got ${describe(id ?? null)}`,
        );
      }
      ops.push({ kind, id, run, part: `/runs/batch ${kind}[${i}]` });
    });
  }
  return ops;
}

/**
 * `POST /runs/batch` `{post:[...], patch:[...]}` → one RunUpsert per run id. Posts are
 * applied first, then patches, each list in order (the SDK's own order).
 */
export function mapRunsBatch(body: unknown): RunUpsert[] {
  return applyOpsInOrder(batchOps(body));
}

/**
 * Inline attachments of a `/runs/batch` run. Contrary to the wire notes, SDK 0.12 does
 * not drop them: `attachments: {name: [mime, <Buffer as JSON>]}` is JSON-encoded inline,
 * i.e. `[mime, {"type":"Buffer","data":[...bytes]}]`. Also accepted: `{mimeType, data}`
 * and base64 strings. Other shapes (e.g. a Uint8Array encoded as `{"0":..}`) are skipped.
 */
function inlineAttachments(runId: string, value: unknown, warnings: string[]): AttachmentWrite[] {
  if (!isJsonObject(value)) return [];
  const out: AttachmentWrite[] = [];
  for (const [name, att] of Object.entries(value)) {
    const [mime, data] = Array.isArray(att)
      ? [att[0], att[1]]
      : isJsonObject(att)
        ? [att.mimeType ?? att.mime_type, att.data]
        : [undefined, undefined];
    let bytes: Buffer | undefined;
    if (isJsonObject(data) && data.type === 'Buffer' && Array.isArray(data.data)) {
      const arr = data.data;
      if (arr.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)) {
        bytes = Buffer.from(arr as number[]);
      }
    } else if (typeof data === 'string') {
      bytes = Buffer.from(data, 'base64');
    }
    if (typeof mime !== 'string' || bytes === undefined || name.includes('.')) {
      warnings.push(
        `run ${runId}: inline attachment ${describe(name)} has an unsupported shape; skipped`,
      );
      continue;
    }
    out.push({
      runId: runId.toLowerCase(),
      name,
      contentType: mime.split(';')[0]!.trim(),
      data: bytes,
    });
  }
  return out;
}

/** `POST /runs/batch` → WriteBatch (runs + inline attachments) and warnings to log. */
export function runsBatchToWriteBatch(body: unknown): { batch: WriteBatch; warnings: string[] } {
  const ops = batchOps(body);
  const warnings: string[] = [];
  const runs = applyOpsInOrder(ops);
  const attachments = ops.flatMap((op) => inlineAttachments(op.id, op.run.attachments, warnings));
  return { batch: { runs, attachments }, warnings };
}

/** `POST /runs` body (one run create with inline fields). */
export function mapSingleRunCreate(body: unknown): RunUpsert {
  return mapRunCreate(body, { where: 'POST /runs' });
}

/** `PATCH /runs/{runId}` body (one run update with inline fields; usually no `id`). */
export function mapSingleRunUpdate(runId: string, body: unknown): RunUpsert {
  return mapRunUpdate(runId, body, { where: `PATCH /runs/${runId}` });
}

/** `POST /feedback` body. */
export function mapFeedbackBody(body: unknown): FeedbackWrite {
  return mapFeedback(body, { where: 'POST /feedback' });
}

/** The parsed multipart body → one WriteBatch (runs merged in body order). */
export function multipartToWriteBatch(ops: MultipartOps): WriteBatch {
  return {
    runs: applyOpsInOrder(ops.runs),
    attachments: ops.attachments.map((a) => ({ ...a })),
    feedback: ops.feedback.map((f) => mapFeedback(f.feedback, { where: `part ${f.part}` })),
  };
}
