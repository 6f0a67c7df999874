// SIGKILL mid-load, restart on the same database, clients retry what was not
// acknowledged: every acknowledged span survives, every retried span is stored, and
// nothing is stored twice (OTLP ingest is idempotent on (traceId, spanId)).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  childProcesses,
  createTestDatabase,
  testBackends,
  TEST_API_KEY,
  type DatabaseKindName,
  type TestDatabase,
} from '@loupe/collector/testing';
import { generateOtlpBatches, type OtlpBatch } from '../../support/robustness-otlp.js';
import {
  collectorEnv,
  freePort,
  killAllCollectors,
  spawnCollector,
  type CollectorProcess,
} from '../../support/robustness-process.js';
import {
  compareIds,
  deliver,
  listRunIds,
  waitUntil,
  type DeliveryResult,
} from '../../support/robustness-http.js';

const CLIENTS = 4;
const BATCHES = 120; // spread round-robin over the clients
const SPANS_PER_BATCH = 40;
/** fraction of all batches acknowledged before each SIGKILL */
const KILL_AT = [0.25, 0.6];

interface BatchOutcome {
  batch: OtlpBatch;
  result: DeliveryResult;
  /** collector generation (1 = first process) that answered the 200 */
  ackedBy: number | undefined;
}

/**
 * PGlite and PostgreSQL with one collector process; PostgreSQL also with LOUPE_WORKERS=2,
 * where the kill takes the whole process tree at once (supervisor and workers: a crash).
 */
const VARIANTS: Array<[DatabaseKindName, number]> = testBackends().flatMap(
  (kind): Array<[DatabaseKindName, number]> =>
    kind === 'postgres'
      ? [
          [kind, 1],
          [kind, 2],
        ]
      : [[kind, 1]],
);

describe.each(VARIANTS)(
  'kill -9 mid-load and retry (%s, %i collector processes)',
  (kind, workers) => {
    let db: TestDatabase;
    let batches: OtlpBatch[];

    beforeAll(async () => {
      db = await createTestDatabase(kind);
      batches = await generateOtlpBatches({
        batches: BATCHES,
        spansPerBatch: SPANS_PER_BATCH,
        attributeBytes: 512,
        format: 'protobuf',
      });
    });
    afterEach(killAllCollectors);
    afterAll(async () => {
      await killAllCollectors();
      await db?.drop();
    });

    it('keeps every acknowledged span, stores every retried span, stores none twice', async () => {
      const port = await freePort();
      const env = { ...collectorEnv(db), LOUPE_WORKERS: String(workers) };
      let proc: CollectorProcess = spawnCollector(port, env);
      await proc.waitHealthy(90_000);
      let generation = 1;
      let acked = 0;
      let inFlight = 0;
      const deadline = Date.now() + 240_000;

      const outcomes: BatchOutcome[] = [];
      const client = async (mine: OtlpBatch[]) => {
        for (const batch of mine) {
          let ackedBy: number | undefined;
          const result = await deliver(() => proc.url, batch.body, {
            apiKey: TEST_API_KEY,
            contentType: batch.contentType,
            deadline,
            onSend: () => inFlight++,
            onAttempt: (a) => {
              inFlight--;
              if (a.status === 200) {
                ackedBy = generation;
                acked++;
              }
            },
          });
          outcomes.push({ batch, result, ackedBy });
        }
      };
      const clients = Array.from({ length: CLIENTS }, (_, c) =>
        client(batches.filter((b) => b.index % CLIENTS === c)),
      );

      const kills: { ackedBefore: number; inFlight: number; restartMs: number }[] = [];
      try {
        for (const fraction of KILL_AT) {
          await waitUntil(
            () => acked >= Math.ceil(BATCHES * fraction),
            120_000,
            `${fraction * 100}% of the batches acknowledged`,
          );
          const ackedBefore = acked;
          const inFlightAtKill = inFlight;
          const tree = childProcesses(proc.child.pid!);
          if (workers > 1) expect(tree).toHaveLength(workers);
          for (const pid of tree) process.kill(pid, 'SIGKILL');
          proc.child.kill('SIGKILL');
          const exit = await proc.exited;
          expect(exit.signal).toBe('SIGKILL');
          await sleep(250);
          const t0 = Date.now();
          proc = spawnCollector(port, env); // same port, same database
          generation++;
          await proc.waitHealthy(120_000);
          kills.push({ ackedBefore, inFlight: inFlightAtKill, restartMs: Date.now() - t0 });
        }
      } finally {
        await Promise.all(clients);
      }

      const failed = outcomes.filter((o) => !o.result.ok);
      expect(
        failed.map((o) => ({
          batch: o.batch.index,
          attempts: o.result.attempts.map((a) => `${a.status} ${a.detail ?? ''}`),
        })),
        'batches that never got a 200',
      ).toEqual([]);
      expect(outcomes).toHaveLength(BATCHES);

      // a batch whose first attempt did not get a 200 was retried
      const retried = outcomes.filter((o) => o.result.attempts[0]?.status !== 200);
      const ackedByFirst = outcomes.filter((o) => o.ackedBy === 1);
      expect(
        retried.length,
        'the kills interrupted nothing: the test proved nothing',
      ).toBeGreaterThan(0);
      expect(ackedByFirst.length).toBeGreaterThan(0);

      const stored = await listRunIds(proc.url, TEST_API_KEY);
      const expected = batches.flatMap((b) => b.runIds);
      const cmp = compareIds(expected, stored);
      const missingOf = (list: BatchOutcome[]) => {
        const ids = new Set(list.flatMap((o) => o.batch.runIds));
        return cmp.missing.filter((id) => ids.has(id));
      };
      expect(missingOf(ackedByFirst), 'spans acknowledged by the killed process').toEqual([]);
      expect(missingOf(retried), 'spans of retried batches').toEqual([]);
      expect(cmp.missing).toEqual([]);
      expect(cmp.duplicated).toEqual([]);
      expect(cmp.unexpected).toEqual([]);
      expect(stored.length).toBe(new Set(expected).size);

      console.info(
        `[kill-and-retry ${kind}, ${workers} process(es)] ${BATCHES} batches × ${SPANS_PER_BATCH} spans, ${CLIENTS} clients; ` +
          `kills: ${JSON.stringify(kills)}; acknowledged by process 1: ${ackedByFirst.length}; ` +
          `retried: ${retried.length}; stored ${stored.length}/${expected.length}`,
      );

      const exit = await proc.stop('SIGTERM');
      expect(exit.code, `collector output:\n${proc.stdout()}\n${proc.stderr()}`).toBe(0);
    }, 300_000);
  },
);
