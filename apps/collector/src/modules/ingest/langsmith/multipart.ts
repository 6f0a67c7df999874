/**
 * `POST /runs/multipart` body → ordered operations.
 *
 * The body is already decompressed and size-capped by the HTTP layer. busboy splits it
 * into parts **in body order**; this module then groups the parts into run operations
 * (`post.<id>` / `patch.<id>` main part merged with its `.<field>` parts), attachments
 * and feedback. It does not interpret run fields (see langsmith-map.ts).
 *
 * Decisions:
 * - Unknown part names are **skipped with a warning** by default (`unknownParts: 'skip'`).
 *   The SDK drops the *whole* batch on any 4xx without retrying, so rejecting a part
 *   that a newer SDK adds (e.g. a new `post.<id>.<field>`) would lose every run in the
 *   batch; skipping loses only that part and the warning tells the operator. Parts of a
 *   known kind with a malformed id, malformed JSON or a wrong JSON shape are a 400.
 * - Part bodies are read byte-exact: busboy is told to decode parts without a charset
 *   as latin1, which maps 1:1 back to bytes. Parts that *declare* a charset are decoded
 *   by busboy (which does not report which one); JSON parts are recovered correctly,
 *   attachment bytes of such parts may differ from the original (the LangSmith SDKs
 *   never declare one: `application/json; length=N`, `<mime>; length=N`).
 * - An attachment's content type is the part's media type without parameters
 *   (busboy drops `length=` and `charset=`).
 */
import busboy from 'busboy';
import { LoupeError, badRequest, undecodable } from '../../../errors.js';
import { isUuid } from '../ids.js';
import type { JsonObject } from '../run-upsert.js';
import { describe, isJsonObject } from './langsmith-values.js';

export const RUN_PART_FIELDS = [
  'inputs',
  'outputs',
  'extra',
  'error',
  'events',
  'serialized',
] as const;
export type RunPartField = (typeof RUN_PART_FIELDS)[number];

export interface MultipartLimits {
  /** max number of parts in one body */
  maxParts: number;
  /** max bytes of any single part (JSON or attachment) */
  maxPartBytes: number;
  /** what to do with a part whose name is not understood */
  unknownParts: 'skip' | 'reject';
}

export const DEFAULT_MULTIPART_LIMITS: MultipartLimits = {
  maxParts: 10_000,
  maxPartBytes: 25 * 1024 * 1024,
  unknownParts: 'skip',
};

export interface RunOp {
  kind: 'post' | 'patch';
  /** run id (lower-case UUID) */
  id: string;
  /** the main part's JSON object with the field parts merged in; `id` is always set */
  run: JsonObject;
  /** the part name of the main part (or first field part), for error messages */
  part: string;
}

export interface AttachmentPart {
  runId: string;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface FeedbackPart {
  id: string;
  feedback: JsonObject;
  part: string;
}

export interface MultipartOps {
  /** run operations in body order (apply with `applyOpsInOrder`) */
  runs: RunOp[];
  attachments: AttachmentPart[];
  feedback: FeedbackPart[];
  /** human-readable notes about skipped parts; log them */
  warnings: string[];
}

interface RawPart {
  name: string | undefined;
  mimeType: string;
  /** exact bytes when known */
  data: Buffer;
  /** busboy's decoded text for non-file parts (latin1 unless a charset was declared) */
  text: string | undefined;
}

const tooLarge = (message: string) => new LoupeError('BODY_TOO_LARGE', message);

/** Runs busboy over an in-memory body and returns the parts in body order. */
function readParts(body: Buffer, contentType: string, limits: MultipartLimits): Promise<RawPart[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        defCharset: 'latin1',
        limits: {
          parts: limits.maxParts + 1,
          fieldSize: limits.maxPartBytes,
          fileSize: limits.maxPartBytes,
        },
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/^Unsupported content type|^Malformed content type/.test(message)) {
        reject(
          new LoupeError(
            'UNSUPPORTED_MEDIA_TYPE',
            `expected Content-Type multipart/form-data with a boundary; got ${describe(contentType)}`,
          ),
        );
      } else {
        reject(undecodable(`cannot parse multipart body: ${message}`, err));
      }
      return;
    }

    const parts: (RawPart | undefined)[] = [];
    let failure: Error | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      const error = err ?? failure;
      if (error) reject(error);
      else resolve(parts.filter((p): p is RawPart => p !== undefined));
    };
    const count = () => {
      if (parts.length > limits.maxParts && !failure) {
        failure = badRequest(
          `too many multipart parts: the limit is ${limits.maxParts} per request`,
        );
      }
    };
    const partTooLarge = (name: string | undefined) => {
      failure ??= tooLarge(
        `multipart part ${describe(name ?? '(unnamed)')} exceeds the limit of ${limits.maxPartBytes} bytes`,
      );
    };

    parser.on('field', (name: string | undefined, value: string, info: busboy.FieldInfo) => {
      if (info.valueTruncated) partTooLarge(name);
      parts.push({
        name,
        mimeType: info.mimeType,
        data: Buffer.from(value, 'latin1'),
        text: value,
      });
      count();
    });
    parser.on('file', (name: string | undefined, stream, info: busboy.FileInfo) => {
      const index = parts.length;
      parts.push(undefined);
      count();
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => partTooLarge(name));
      stream.on('end', () => {
        parts[index] = {
          name,
          mimeType: info.mimeType,
          data: Buffer.concat(chunks),
          text: undefined,
        };
      });
    });
    parser.on('error', (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      finish(failure ?? undecodable(`malformed multipart body: ${message}`, err));
    });
    parser.on('close', () => finish());
    parser.end(body);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON text of a part: exact UTF-8 bytes, or busboy's text if it declared a charset. */
function partText(part: RawPart): string {
  const text = part.text;
  let result: string;
  if (text === undefined) {
    result = part.data.toString('utf8');
  } else if (/[\u0100-\uffff]/.test(text)) {
    result = text; // decoded by busboy from a declared charset
  } else {
    try {
      result = utf8.decode(part.data);
    } catch {
      result = text; // declared single-byte charset or latin1-range text
    }
  }
  return result.charCodeAt(0) === 0xfeff ? result.slice(1) : result;
}

function parseJsonPart(part: RawPart, name: string): unknown {
  const text = partText(part);
  if (text.trim() === '') throw badRequest(`multipart part "${name}" is empty; expected JSON`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw badRequest(`multipart part "${name}" is not valid JSON: ${message}`);
  }
}

function requireId(value: string | undefined, name: string, what: string): string {
  if (!isUuid(value)) {
    throw badRequest(`multipart part "${name}": ${what} ${describe(value ?? '')} is not a UUID`);
  }
  return value.toLowerCase();
}

function checkBodyId(obj: JsonObject, id: string, name: string): void {
  const bodyId = obj.id;
  if (bodyId === undefined || bodyId === null) return;
  if (typeof bodyId !== 'string' || bodyId.toLowerCase() !== id) {
    throw badRequest(
      `multipart part "${name}": body id ${describe(bodyId)} does not match the part name`,
    );
  }
}

function isRunField(value: string | undefined): value is RunPartField {
  return (RUN_PART_FIELDS as readonly (string | undefined)[]).includes(value);
}

interface OpState {
  op: RunOp;
  hasMain: boolean;
  fields: Set<string>;
}

/**
 * Parses a LangSmith `/runs/multipart` body. See the module comment for decisions.
 * Throws `LoupeError`s: 400 (bad part / JSON / too many parts / empty body),
 * 413 (a part over `maxPartBytes`), 415 (not multipart/form-data).
 */
export async function parseRunsMultipart(
  body: Buffer,
  contentType: string,
  limits: Partial<MultipartLimits> = {},
): Promise<MultipartOps> {
  const lim: MultipartLimits = { ...DEFAULT_MULTIPART_LIMITS, ...limits };
  if (body.length === 0) {
    throw badRequest('empty multipart body: expected at least one post/patch/feedback part');
  }
  const parts = await readParts(body, contentType, lim);

  const out: MultipartOps = { runs: [], attachments: [], feedback: [], warnings: [] };
  const current = new Map<string, OpState>();
  const unknown = (name: string, why: string) => {
    const message = `multipart part ${describe(name)} ${why}`;
    if (lim.unknownParts === 'reject') throw badRequest(message);
    out.warnings.push(`${message}; skipped`);
  };
  const stateFor = (
    kind: 'post' | 'patch',
    id: string,
    name: string,
    fresh: (s: OpState) => boolean,
  ) => {
    const key = `${kind}.${id}`;
    let state = current.get(key);
    if (!state || fresh(state)) {
      state = { op: { kind, id, run: { id }, part: name }, hasMain: false, fields: new Set() };
      current.set(key, state);
      out.runs.push(state.op);
    }
    return state;
  };

  for (const part of parts) {
    const name = part.name ?? '';
    const segs = name.split('.');
    const kind = segs[0];
    if (kind === 'post' || kind === 'patch') {
      const id = requireId(segs[1], name, 'run id');
      if (segs.length === 2) {
        const obj = parseJsonPart(part, name);
        if (!isJsonObject(obj)) {
          throw badRequest(`multipart part "${name}" must be a JSON object; got ${describe(obj)}`);
        }
        checkBodyId(obj, id, name);
        const state = stateFor(kind, id, name, (s) => s.hasMain);
        state.hasMain = true;
        state.op.part = name;
        // field parts already received win over same-named keys of the main part
        state.op.run = { ...obj, ...state.op.run, id };
      } else if (segs.length === 3 && isRunField(segs[2])) {
        const field = segs[2];
        const value = parseJsonPart(part, name) as JsonObject[string];
        const state = stateFor(kind, id, name, (s) => s.fields.has(field));
        state.fields.add(field);
        state.op.run[field] = value;
      } else {
        unknown(
          name,
          `is not a known ${kind} part (expected ${kind}.<id> or ${kind}.<id>.<${RUN_PART_FIELDS.join('|')}>)`,
        );
      }
    } else if (kind === 'attachment') {
      const runId = requireId(segs[1], name, 'run id');
      const attName = segs.slice(2).join('.');
      if (attName === '') {
        throw badRequest(
          `multipart part "${name}": attachment name is missing (expected attachment.<run_id>.<name>)`,
        );
      }
      out.attachments.push({ runId, name: attName, contentType: part.mimeType, data: part.data });
    } else if (kind === 'feedback' && segs.length === 2) {
      const id = requireId(segs[1], name, 'feedback id');
      const obj = parseJsonPart(part, name);
      if (!isJsonObject(obj)) {
        throw badRequest(`multipart part "${name}" must be a JSON object; got ${describe(obj)}`);
      }
      checkBodyId(obj, id, name);
      out.feedback.push({ id, feedback: { ...obj, id }, part: name });
    } else {
      unknown(name === '' ? '(unnamed)' : name, 'is not a LangSmith ingest part');
    }
  }
  return out;
}
