import type { JsonObject, RunUpsert } from './run-upsert.js';

/**
 * Merges `next` over `prev` (same run id) with the storage rule: a field `next` does
 * not carry never clears `prev`; tags are unioned in order; metadata, extra, token
 * details and log records merge key by key (later wins). The SQL upsert applies the
 * same rule against stored rows, so merging in memory first and then upserting gives
 * the same result as upserting one by one.
 */
export function mergeRunUpserts(prev: RunUpsert, next: RunUpsert): RunUpsert {
  const out: RunUpsert = { ...prev };
  for (const [key, value] of Object.entries(next) as [keyof RunUpsert, unknown][]) {
    if (value === undefined) continue;
    switch (key) {
      case 'tags':
        out.tags = unionTags(prev.tags, next.tags);
        break;
      case 'metadata':
      case 'extra':
        out[key] = mergeObjects(prev[key], next[key]);
        break;
      case 'tokenDetails':
        out.tokenDetails = { ...prev.tokenDetails, ...next.tokenDetails };
        break;
      case 'logRecords':
        out.logRecords = { ...prev.logRecords, ...next.logRecords };
        break;
      default:
        (out as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

function unionTags(a: string[] | undefined, b: string[] | undefined): string[] {
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

function mergeObjects(
  a: JsonObject | undefined,
  b: JsonObject | undefined,
): JsonObject | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { ...a, ...b };
}

/** Folds a list of upserts into one per id, keeping first-seen order of ids. */
export function foldById(runs: Iterable<RunUpsert>): Map<string, RunUpsert> {
  const byId = new Map<string, RunUpsert>();
  for (const run of runs) {
    const prev = byId.get(run.id);
    byId.set(run.id, prev === undefined ? run : mergeRunUpserts(prev, run));
  }
  return byId;
}
