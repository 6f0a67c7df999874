import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { LoupeError } from '../../errors.js';
import { isDatabaseUnavailable } from '../../db/database.js';
import type { Db } from '../workspaces/workspaces.repository.js';
import type { ProjectResolver } from '../projects/projects.service.js';
import {
  upsertAttachments,
  upsertFeedback,
  upsertRuns,
  type ResolvedFeedback,
  type ResolvedRun,
} from '../runs/runs-write.repository.js';
import { copyOrUpsertRuns, isInsertRace } from '../runs/runs-copy.repository.js';
import { foldById } from './run-merge.js';
import type { WriteBatch } from './run-upsert.js';

export interface RunWriterOptions {
  /** rows waiting (queued + being written) before new work is refused with 503 */
  maxPendingRows: number;
  /** rows per transaction; one request's batch is never split */
  maxBatchRows: number;
  /** concurrent transactions */
  concurrency: number;
  /**
   * PostgreSQL only: new runs go in with COPY on connections of this pool
   * (runs-copy.repository.ts). Unset (PGlite) → every run through the upsert.
   */
  copyPool?: pg.Pool;
}

interface Pending {
  runs: ResolvedRun[];
  feedback: ResolvedFeedback[];
  batch: WriteBatch;
  rows: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface WriterStats {
  pendingRows: number;
  inFlightTransactions: number;
  committedRows: number;
  committedTransactions: number;
  refusedRequests: number;
  /** runs written by COPY (PostgreSQL fast path: their ids were new) */
  copiedRuns: number;
  /** COPY fast-path transactions retried as upserts because another writer won an id */
  insertRaces: number;
}

/**
 * Group commit: every request waits until its rows are committed (acknowledged means
 * durable), but concurrent requests share transactions. While a transaction runs,
 * new requests queue; the next transaction takes everything queued (up to
 * maxBatchRows), so under load one commit (one fsync) acknowledges many requests.
 * Bounded: past maxPendingRows new requests get 503 + Retry-After instead of
 * buffering without limit.
 */
export class RunWriter {
  private readonly queue: Pending[] = [];
  private pendingRows = 0;
  private active = 0;
  private draining: (() => void) | undefined;
  private readonly stats = {
    committedRows: 0,
    committedTransactions: 0,
    refusedRequests: 0,
    copiedRuns: 0,
    insertRaces: 0,
  };

  constructor(
    private readonly db: Db,
    private readonly projects: ProjectResolver,
    private readonly options: RunWriterOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  getStats(): WriterStats {
    return { pendingRows: this.pendingRows, inFlightTransactions: this.active, ...this.stats };
  }

  /** Resolves once every row of `batch` is committed; rejects with a LoupeError otherwise. */
  async write(workspaceId: string, defaultProject: string, batch: WriteBatch): Promise<void> {
    const rows =
      batch.runs.length + (batch.feedback?.length ?? 0) + (batch.attachments?.length ?? 0);
    if (rows === 0) return;
    if (this.pendingRows + rows > this.options.maxPendingRows && this.pendingRows > 0) {
      this.stats.refusedRequests++;
      throw new LoupeError(
        'OVERLOADED',
        `Ingest queue is full (${this.pendingRows} rows waiting); retry later`,
        {
          retryAfter: 1,
        },
      );
    }
    this.pendingRows += rows;
    try {
      const runs = await this.resolveProjects(workspaceId, defaultProject, batch);
      const feedback = (batch.feedback ?? []).map((f) => ({ ...f, workspaceId }));
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ runs, feedback, batch, rows, resolve, reject });
        this.pump();
      });
    } finally {
      this.pendingRows -= rows;
    }
  }

  /** Waits until everything queued has been written (or failed). */
  async drain(): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return;
    await new Promise<void>((resolve) => {
      this.draining = resolve;
    });
  }

  private async resolveProjects(workspaceId: string, defaultProject: string, batch: WriteBatch) {
    // One lookup per distinct project in the request, not one await per run: a
    // 512-span batch names one or two projects (measured hot in bench:ingest).
    const byName = new Map<string, string>();
    const validIds = new Set<string>();
    const checkedIds = new Set<string>();
    for (const run of batch.runs) {
      if (run.projectId !== undefined && !checkedIds.has(run.projectId)) {
        const id = run.projectId;
        checkedIds.add(id);
        if (await this.guard(() => this.projects.exists(workspaceId, id))) validIds.add(id);
      }
      const name = run.projectName ?? defaultProject;
      if ((run.projectId === undefined || !validIds.has(run.projectId)) && !byName.has(name)) {
        byName.set(name, await this.guard(() => this.projects.idForName(workspaceId, name)));
      }
    }
    return batch.runs.map((run): ResolvedRun => {
      const resolvedProjectId =
        run.projectId !== undefined && validIds.has(run.projectId)
          ? run.projectId
          : byName.get(run.projectName ?? defaultProject)!;
      return Object.assign(run, { workspaceId, resolvedProjectId });
    });
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toWriteError(error);
    }
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.queue.length > 0) {
      const group: Pending[] = [];
      let rows = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0]!;
        if (group.length > 0 && rows + next.rows > this.options.maxBatchRows) break;
        group.push(this.queue.shift()!);
        rows += next.rows;
      }
      this.active++;
      void this.commitGroup(group).finally(() => {
        this.active--;
        if (this.queue.length > 0) this.pump();
        else if (this.active === 0 && this.draining !== undefined) {
          this.draining();
          this.draining = undefined;
        }
      });
    }
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    try {
      await this.commit(group);
      this.stats.committedTransactions++;
      for (const p of group) {
        this.stats.committedRows += p.rows;
        p.resolve();
      }
    } catch (error) {
      const mapped = toWriteError(error);
      if (group.length > 1 && mapped.code !== 'LOUPE_ERR_DATABASE_UNAVAILABLE') {
        // One request's bad data must not fail its neighbours: retry each alone.
        this.log.warn({ err: error }, 'group commit failed; retrying requests one by one');
        for (const p of group) await this.commitGroup([p]);
        return;
      }
      if (mapped.statusCode >= 500) this.log.error({ err: error }, 'ingest write failed');
      for (const p of group) p.reject(mapped);
    }
  }

  private async commit(group: Pending[]): Promise<void> {
    const runs = [...foldById(group.flatMap((p) => p.runs)).values()] as ResolvedRun[];
    // Same lock order in every transaction → concurrent group commits cannot deadlock.
    runs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const feedback = group.flatMap((p) => p.feedback);
    const attachments = group.flatMap((p) => p.batch.attachments ?? []);
    const copyPool = this.options.copyPool;
    if (copyPool !== undefined && feedback.length === 0 && attachments.length === 0) {
      try {
        this.stats.copiedRuns += await copyOrUpsertRuns(copyPool, this.db, runs);
        return;
      } catch (error) {
        // another writer stored one of these ids meanwhile: the upsert below merges
        if (!isInsertRace(error)) throw error;
        this.stats.insertRaces++;
      }
    }
    await this.db.transaction().execute(async (trx) => {
      await upsertRuns(trx, runs);
      if (attachments.length > 0) await upsertAttachments(trx, attachments);
      if (feedback.length > 0) await upsertFeedback(trx, feedback);
    });
  }
}

/** Maps a database failure to a client-facing error: unreachable → 503, bad data → 400. */
export function toWriteError(error: unknown): LoupeError {
  if (error instanceof LoupeError) return error;
  const e = error as { code?: string; message?: string };
  const code = e.code ?? '';
  const message = e.message ?? String(error);
  if (isDatabaseUnavailable(error)) {
    return new LoupeError('DATABASE_UNAVAILABLE', 'The database is unreachable; retry later', {
      retryAfter: 2,
      cause: error,
    });
  }
  // 22xxx data exceptions (bad uuid, bad timestamp, invalid json…), 23xxx constraint violations
  if (code.startsWith('22') || code.startsWith('23')) {
    return new LoupeError('VALIDATION', `The database rejected a value: ${message}`, {
      cause: error,
    });
  }
  return new LoupeError('INTERNAL', 'Writing the data failed', { cause: error });
}
