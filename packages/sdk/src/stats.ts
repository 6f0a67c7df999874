/**
 * Transport health in numbers, for apps that want to alert on lost telemetry without
 * installing a diag logger. Counters are per processor/exporter (so several can coexist)
 * and `getStats()` sums them process-wide; a shut-down source folds its totals into
 * `retired` so the sums never go backwards and nothing is retained per instance.
 *
 * Invariant per processor: spans ended while it ran = exported + dropped + queued.
 */
import { internalErrorCount } from './internal/report.js';

export interface LoupeStats {
  /** spans in memory awaiting delivery right now (queues plus batches in flight) */
  queued: number;
  /** spans the collector accepted */
  exported: number;
  /** spans that will never be delivered: queue full, permanent failure, collector rejects, shutdown deadline */
  dropped: number;
  /** export requests that failed permanently (their spans are in `dropped`) */
  failedExports: number;
  /** export requests that failed retryably and were scheduled again */
  retries: number;
  /** problems inside the SDK, from the one reporter (internal/report.ts) */
  internalErrors: number;
}

export class ExportCounters {
  exported = 0;
  dropped = 0;
  failedExports = 0;
  retries = 0;
}

export interface StatsSource {
  readonly counters: ExportCounters;
  queued(): number;
}

const live = new Set<StatsSource>();
const retired = new ExportCounters();

/** Adds a source to the process-wide sums; the returned function retires it (idempotent). */
export function registerStatsSource(source: StatsSource): () => void {
  live.add(source);
  return () => {
    if (!live.delete(source)) return;
    retired.exported += source.counters.exported;
    retired.dropped += source.counters.dropped;
    retired.failedExports += source.counters.failedExports;
    retired.retries += source.counters.retries;
  };
}

export function statsOf(counters: ExportCounters, queued: number): LoupeStats {
  return {
    queued,
    exported: counters.exported,
    dropped: counters.dropped,
    failedExports: counters.failedExports,
    retries: counters.retries,
    internalErrors: internalErrorCount(),
  };
}

/** Process-wide totals of every Loupe processor and exporter, live or shut down. */
export function getStats(): LoupeStats {
  const sum = new ExportCounters();
  sum.exported = retired.exported;
  sum.dropped = retired.dropped;
  sum.failedExports = retired.failedExports;
  sum.retries = retired.retries;
  let queued = 0;
  for (const source of live) {
    sum.exported += source.counters.exported;
    sum.dropped += source.counters.dropped;
    sum.failedExports += source.counters.failedExports;
    sum.retries += source.counters.retries;
    queued += source.queued();
  }
  return statsOf(sum, queued);
}
