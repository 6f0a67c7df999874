/**
 * `createFeedback`: end-user feedback (thumbs up/down, a comment, a correction) sent
 * from the app's request path. It never rejects and never throws: the answer is a
 * result object, because a feedback widget failing must not fail the user's request.
 *
 * It retries within one overall time budget on what passes with time:
 * - 404: the run is not ingested yet. Spans leave the process in batches, so feedback
 *   given right after a response can arrive before its run; the collector says so.
 * - 429/502/503/504 (honouring Retry-After) and connection failures.
 * A client-chosen feedback id makes the retries idempotent: the collector upserts by id,
 * so a request that timed out after committing is not stored twice.
 */
import { randomUUID } from 'node:crypto';
import type { FeedbackItem } from '@loupe/contracts';
import {
  LoupeApiError,
  LoupeClient,
  type FeedbackInput,
  type LoupeClientOptions,
} from './client.js';

export interface CreateFeedbackOptions extends LoupeClientOptions {
  /** the whole call's budget, retries included; default 10 000 */
  timeoutMs?: number;
}

export type CreateFeedbackResult =
  { ok: true; feedback: FeedbackItem } | { ok: false; error: LoupeApiError };

export const DEFAULT_FEEDBACK_TIMEOUT_MS = 10_000;
const RETRY_STATUSES = new Set([404, 429, 502, 503, 504]);
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2_000;

function invalid(message: string): CreateFeedbackResult {
  return {
    ok: false,
    error: new LoupeApiError(0, 'LOUPE_ERR_INVALID_ARGUMENT', message, undefined),
  };
}

function asApiError(error: unknown): LoupeApiError {
  if (error instanceof LoupeApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LoupeApiError(0, 'LOUPE_ERR_NETWORK', message, undefined, { cause: error });
}

/** Delay before the next attempt, or undefined when the error will not pass with time. */
function retryDelay(error: LoupeApiError, attempt: number): number | undefined {
  const retryable = RETRY_STATUSES.has(error.status) || error.code === 'LOUPE_ERR_NETWORK';
  if (!retryable) return undefined;
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  // jitter: many clients told "not yet" at once must not come back in lockstep
  return backoff / 2 + Math.random() * (backoff / 2);
}

/**
 * Sends feedback on a run — typically `getCurrentRunId()` captured while the run was
 * active. Endpoint and API key as for LoupeClient (options, else LOUPE_ENDPOINT /
 * LOUPE_API_KEY); `source` defaults to `{type: "app"}`.
 */
export async function createFeedback(
  input: FeedbackInput,
  options: CreateFeedbackOptions = {},
): Promise<CreateFeedbackResult> {
  try {
    if (typeof input !== 'object' || input === null) return invalid('feedback must be an object');
    if (typeof input.runId !== 'string' || input.runId === '') {
      return invalid(
        'runId is missing (getCurrentRunId() is undefined outside a traced run and before init())',
      );
    }
    if (typeof input.key !== 'string' || input.key === '') return invalid('key is missing');
    // untyped callers: anything but an object means "no options"
    const opts: CreateFeedbackOptions =
      typeof options === 'object' && options !== null ? options : {};
    const t = opts.timeoutMs;
    const budget =
      typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : DEFAULT_FEEDBACK_TIMEOUT_MS;
    const client = new LoupeClient({ ...opts, timeoutMs: budget });
    const deadline = Date.now() + budget;
    const feedback: FeedbackInput = {
      ...input,
      id: input.id ?? randomUUID(),
      source: input.source ?? { type: 'app' },
    };
    for (let attempt = 0; ; attempt++) {
      const remaining = Math.max(1, deadline - Date.now());
      try {
        const item = await client.createFeedback(feedback, {
          signal: AbortSignal.timeout(remaining),
        });
        return { ok: true, feedback: item };
      } catch (caught) {
        const error = asApiError(caught);
        const delay = retryDelay(error, attempt);
        if (delay === undefined || Date.now() + delay >= deadline) return { ok: false, error };
        // not unref'd: the wait is bounded by the budget, and an app awaiting this call
        // at the end of a script wants the answer rather than a silent exit
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  } catch (error) {
    return { ok: false, error: asApiError(error) };
  }
}
