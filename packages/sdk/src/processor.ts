/**
 * The Loupe span processor: stamps run context on every span at start, and ships ended
 * spans through a bounded queue with one export in flight.
 *
 * Queue policy (after otel-js `BatchSpanProcessorBase.ts`, plus retries):
 * - at most `maxQueueSize` spans are held, the batch in flight included (so memory is
 *   bounded by the number the user set, not that plus a batch). When full, the NEWEST
 *   span is dropped and counted. Same choice as OTel's BatchSpanProcessor: spans already
 *   queued are closer to delivery, and the drop costs nothing (no eviction scan).
 * - a batch that failed retryably goes back to the FRONT (delivery order is kept) and
 *   exports pause for Retry-After or the backoff. It was counted against the bound while
 *   in flight, so putting it back never overflows: during an outage the overflow shows
 *   up as newest spans dropped at the door.
 * - a permanent failure drops the batch and counts it.
 * - background exports and their timers never hold the process open. Only a flush the
 *   app awaits does (bounded by `flushTimeoutMillis`): without that, an ESM main ending
 *   in `await shutdown()` would exit mid-await and lose the queue.
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import {
  NoopSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { LOUPE_TAGS } from '@loupe/contracts/attributes';
import { getRunContext, runContextAttributes, type RunContext } from './internal/context.js';
import { reportError, reportWarning, safe } from './internal/report.js';
import { setConnection, setPayloadOptions } from './internal/state.js';
import {
  asOptions,
  resolvePayload,
  resolveQueue,
  type LoupePayloadOptions,
  type LoupeQueueOptions,
  type LoupeTransportOptions,
  type ResolvedQueue,
  type RetryPolicy,
} from './config.js';
import { LoupeExporter, retryDelayMillis, type SendOutcome } from './exporter.js';
import { ExportCounters, registerStatsSource, statsOf, type LoupeStats } from './stats.js';

export type LoupeSpanProcessorOptions = LoupeTransportOptions &
  LoupeQueueOptions &
  LoupePayloadOptions;

interface Entry {
  span: ReadableSpan;
  /** enqueue order; forceFlush() waits until every entry up to its call's seq has left */
  seq: number;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * Run context → span attributes (names and encoding from internal/context.ts, shared
 * with traceable). Attributes the span already carries, set by the code that started
 * it, win: they are more specific than what it inherits. Tags are unioned.
 */
export function applyRunContext(span: Span, run: RunContext | undefined): void {
  if (run === undefined || run === null || typeof run !== 'object') return;
  const own = span.attributes;
  for (const [key, value] of Object.entries(runContextAttributes(run))) {
    if (value === undefined || value === null) continue;
    if (key === LOUPE_TAGS && Array.isArray(value)) {
      const existing = own[LOUPE_TAGS];
      const mine = Array.isArray(existing) ? existing.filter(nonEmpty) : [];
      const tags = [...new Set([...value.filter(nonEmpty), ...mine])];
      if (tags.length > 0) span.setAttribute(LOUPE_TAGS, tags);
    } else if (own[key] === undefined) {
      span.setAttribute(key, value);
    }
  }
}

/** Resolves `p`'s settlement against a deadline; a ref'd timer (see the header comment). */
function settledBefore(p: Promise<unknown>, deadline: number): Promise<boolean> {
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LoupeSpanProcessor implements SpanProcessor {
  private readonly exporter: LoupeExporter;
  private readonly queueOptions: ResolvedQueue;
  private readonly retry: RetryPolicy;
  private readonly counters = new ExportCounters();
  private readonly retire: () => void;
  private queue: Entry[] = [];
  private seq = 0;
  private inFlight: Promise<void> | undefined;
  private inFlightCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private pausedUntil = 0;
  /** consecutive retryable failures; drives the backoff, 0 after a success */
  private attempt = 0;
  private flushing = 0;
  private warnedFull = false;
  private state: 'running' | 'shutting-down' | 'shut-down' = 'running';
  private shutdownPromise: Promise<void> | undefined;

  /** Transport and queue only; `loupeSpanProcessor()` also applies the payload options. */
  constructor(options: LoupeSpanProcessorOptions = {}) {
    const opts = asOptions<LoupeSpanProcessorOptions>(options, 'LoupeSpanProcessor');
    this.queueOptions = resolveQueue(opts);
    this.exporter = new LoupeExporter(opts);
    this.retry = this.exporter.retryPolicy;
    this.retire = registerStatsSource({ counters: this.counters, queued: () => this.held() });
  }

  /** Spans in memory not yet delivered: queued plus the batch in flight. */
  private held(): number {
    return this.queue.length + this.inFlightCount;
  }

  /** This processor's counters (`getStats()` sums every processor). */
  getStats(): LoupeStats {
    return statsOf(this.counters, this.held());
  }

  onStart(span: Span, parentContext: Context): void {
    safe('applying run context', undefined, () =>
      applyRunContext(span, getRunContext(parentContext)),
    );
  }

  onEnd(span: ReadableSpan): void {
    safe('queueing a span', undefined, () => this.enqueue(span));
  }

  private enqueue(span: ReadableSpan): void {
    if (this.state === 'shut-down') return;
    // a RECORD-only span (not sampled) is for local processors, never for export
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.held() >= this.queueOptions.maxQueueSize) {
      this.counters.dropped++;
      if (!this.warnedFull) {
        this.warnedFull = true;
        reportWarning(`export queue full (${this.queueOptions.maxQueueSize}): dropping new spans`);
      }
      return;
    }
    this.queue.push({ span, seq: ++this.seq });
    this.kick(false);
  }

  /** Starts an export if allowed now, else arms the timer for when it will be. */
  private kick(timerFired: boolean): void {
    if (this.inFlight !== undefined || this.queue.length === 0 || this.state === 'shut-down')
      return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) return this.arm(wait);
    const full = this.queue.length >= this.queueOptions.maxExportBatchSize;
    if (timerFired || full || this.flushing > 0) return this.exportNext();
    this.arm(this.queueOptions.scheduledDelayMillis);
  }

  private arm(delay: number): void {
    const due = Date.now() + delay;
    if (this.timer !== undefined && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      safe('export timer', undefined, () => this.kick(true));
    }, delay);
    this.timer.unref();
  }

  private exportNext(): void {
    const batch = this.queue.splice(0, this.queueOptions.maxExportBatchSize);
    this.inFlightCount = batch.length;
    this.inFlight = this.runExport(batch).then(() => {
      this.inFlight = undefined;
      safe('scheduling the next export', undefined, () => this.kick(false));
    });
  }

  /** Never rejects: every path ends in settle(). */
  private async runExport(batch: Entry[]): Promise<void> {
    let outcome: SendOutcome;
    try {
      outcome = await this.exporter.send(batch.map((e) => e.span));
    } catch (error) {
      reportError('exporter threw', error);
      outcome = { kind: 'retryable', retryAfterMillis: undefined, reason: 'exporter threw' };
    }
    safe('settling an export', undefined, () => this.settle(batch, outcome));
  }

  private settle(batch: Entry[], outcome: SendOutcome): void {
    const n = batch.length;
    this.inFlightCount = 0;
    if (outcome.kind === 'success') {
      const rejected = Math.min(outcome.rejected, n);
      this.counters.exported += n - rejected;
      this.counters.dropped += rejected;
      if (rejected > 0)
        reportWarning(`collector rejected ${rejected} of ${n} spans: ${outcome.message}`);
      if (this.attempt > 0) reportWarning(`export recovered after ${this.attempt} retries`);
      this.attempt = 0;
      this.warnedFull = false; // the next overflow is a new episode worth a line
      return;
    }
    if (outcome.kind === 'permanent' || this.state === 'shut-down') {
      // after shutdown a retryable batch has nowhere to go back to
      this.counters.failedExports++;
      this.counters.dropped += n;
      this.attempt = 0;
      reportWarning(`export of ${n} spans failed, spans dropped: ${outcome.reason}`);
      return;
    }
    this.counters.retries++;
    this.attempt++;
    this.queue = batch.concat(this.queue);
    const delay = retryDelayMillis(this.attempt, outcome.retryAfterMillis, this.retry);
    this.pausedUntil = Date.now() + delay;
    // one line per outage, not one per attempt
    if (this.attempt === 1) {
      reportWarning(`export failed (${outcome.reason}); retrying in ${Math.round(delay)} ms`);
    }
  }

  /**
   * Exports every span queued when called (and waits out backoffs) until done or
   * `flushTimeoutMillis` passed. Never rejects.
   */
  async forceFlush(): Promise<void> {
    try {
      await this.drain(this.seq, Date.now() + this.queueOptions.flushTimeoutMillis);
    } catch (error) {
      reportError('forceFlush', error);
    }
  }

  private async drain(upToSeq: number, deadline: number): Promise<void> {
    this.flushing++;
    try {
      while (Date.now() < deadline) {
        if (this.inFlight !== undefined) {
          await settledBefore(this.inFlight, deadline);
          continue;
        }
        const head = this.queue[0];
        if (head === undefined || head.seq > upToSeq) return;
        const wait = this.pausedUntil - Date.now();
        if (wait > 0) {
          await sleep(Math.min(wait, deadline - Date.now()));
          continue;
        }
        this.exportNext();
      }
      if (this.queue.length > 0) {
        reportWarning(`flush gave up after its deadline with ${this.queue.length} spans queued`);
      }
    } finally {
      this.flushing--;
    }
  }

  /** Flushes everything (spans ending meanwhile included), then closes the exporter. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown().catch((error: unknown) =>
      reportError('shutdown', error),
    );
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.state = 'shutting-down';
    await this.drain(Infinity, Date.now() + this.queueOptions.flushTimeoutMillis);
    this.state = 'shut-down';
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length > 0) {
      this.counters.dropped += this.queue.length;
      this.queue = [];
    }
    // aborts a request still in flight; its batch settles as dropped (state is shut-down)
    await this.exporter.shutdown();
    if (this.inFlight !== undefined) await this.inFlight;
    this.retire();
  }
}

/**
 * A Loupe span processor for an app that already has an OTel tracer provider. Also
 * applies `redact` / `hideInputs` / `hideOutputs` process-wide (the last call wins).
 * Never throws.
 */
export function loupeSpanProcessor(options: LoupeSpanProcessorOptions = {}): SpanProcessor {
  const opts = asOptions<LoupeSpanProcessorOptions>(options, 'loupeSpanProcessor');
  safe('applying payload options', undefined, () => setPayloadOptions(resolvePayload(opts)));
  safe('remembering the connection', undefined, () =>
    setConnection({
      ...(typeof opts.endpoint === 'string' ? { endpoint: opts.endpoint } : {}),
      ...(typeof opts.apiKey === 'string' ? { apiKey: opts.apiKey } : {}),
    }),
  );
  return safe<SpanProcessor>(
    'creating the span processor',
    new NoopSpanProcessor(),
    () => new LoupeSpanProcessor(opts),
  );
}
