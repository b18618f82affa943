import { randomUUID } from 'node:crypto';
import { dropDatabase, migrateDatabase } from '@sync/persistence';
import { kafkaBrokers } from '../support/test-env';
import {
  type FaultTopics,
  type InProcessQuery,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  scaled,
  startQuery,
  waitUntil,
} from './support/environment';
import { startLoad } from './support/load';
import { OwnPostgres } from './support/postgres-instance';
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload } from './support/workload';

/*
 * Scenario 4: Postgres goes away twice during the load (a fast shutdown, then an immediate one,
 * which is a crash followed by WAL recovery) and comes back. The server is our own embedded
 * Postgres on its own port, never the machine's. The projector must pause (not crash, not
 * skip), say it is not ready, resume by itself and apply everything exactly once; the ingest,
 * which does not use Postgres, keeps accepting throughout.
 */

const OPS = scaled(12_000, 50_000);
const LIBRARIES = scaled(30, 50);
const LOAD_SECONDS = scaled(35, 90);
const DOWN_MS = 6000;

describe('scenario 4: Postgres restarted during load', () => {
  let postgres: OwnPostgres | undefined;
  let databaseUrl: string | undefined;
  let topics: FaultTopics;
  const services: ServiceProcess[] = [];
  let query: InProcessQuery | undefined;

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await query?.close();
    try {
      if (databaseUrl) await dropDatabase(databaseUrl).catch(() => undefined);
      await postgres?.stop();
    } finally {
      // On the shared broker, which the scenario never stops.
      if (topics) await deleteTopics(kafkaBrokers(), topics);
    }
  });

  it('the projector pauses, resumes and applies everything exactly once; the ingest keeps accepting', async () => {
    const began = Date.now();
    const brokers = kafkaBrokers();
    postgres = await OwnPostgres.start();
    databaseUrl = postgres.url(`sync_fault_pg_${randomUUID().replace(/-/g, '').slice(0, 12)}`);
    await migrateDatabase(databaseUrl);
    topics = await createTopics(brokers, 'fault-pg', 6);
    const [ingest, projector] = await Promise.all([
      ServiceProcess.start('ingest', { env: ingestEnv(brokers, topics, databaseUrl) }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, topics, databaseUrl) }),
    ]);
    services.push(ingest, projector);
    await Promise.all([ingest.ready(), projector.ready()]);

    const workload = new FaultWorkload({
      seed: 404,
      libraries: LIBRARIES,
      recordsPerLibrary: OPS / LIBRARIES / 5,
    });
    const load = startLoad({
      ingestUrl: () => ingest.url,
      workload,
      totalOps: OPS,
      batchSize: [20, 150],
      concurrency: 6,
      opsPerSecond: OPS / LOAD_SECONDS,
    });
    const failures = async () => (await projector.metric('projector_batch_failures_total')) ?? 0;

    const outages: {
      how: string;
      pausedMs: number;
      notReady: boolean;
      resumedMs: number;
      restartMs: number;
    }[] = [];
    for (const [how, at] of [
      ['fast shutdown', 0.25],
      ['immediate shutdown (crash)', 0.6],
    ] as const) {
      while (load.sent < OPS * at) await sleep(20);
      const failuresBefore = await failures();
      const down = Date.now();
      if (how === 'fast shutdown') await postgres.stop();
      else await postgres.crash();
      // Batches fail and partitions pause; the process stays up and reports not ready.
      const paused = await waitUntil(async () => (await failures()) > failuresBefore, DOWN_MS, 100);
      const pausedMs = Date.now() - down;
      const notReady = (await projector.get('/health/ready')).status === 503;
      await sleep(Math.max(0, DOWN_MS - (Date.now() - down)));
      expect({
        how,
        paused,
        running: projector.running,
        log: paused ? '' : projector.tail(),
      }).toEqual({
        how,
        paused: true,
        running: true,
        log: '',
      });
      const restart = Date.now();
      await postgres.startAgain();
      const restartMs = Date.now() - restart;
      await projector.ready(60_000);
      // Ready only says Postgres answers; the paused partitions resume at the next recovery
      // probe. The next outage must find them consuming, or no batch could fail there.
      const resumed = await waitUntil(
        async () => (await projector.metric('projector_paused_partitions')) === 0,
        60_000,
      );
      expect({ how, resumed }).toEqual({ how, resumed: true });
      outages.push({ how, pausedMs, notReady, restartMs, resumedMs: Date.now() - restart });
    }
    const ledger = await load.done;

    // Postgres is not on the write path: every request was accepted, outages included.
    expect(ledger.answers()).toEqual({ '202': ledger.batches.length });
    expect(outages.map((o) => o.notReady)).toEqual([true, true]);

    query = await startQuery(databaseUrl, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'Postgres restart',
      databaseUrl,
      brokers,
      topics,
      ledger,
      queryUrl: query.url,
    });
    reportResult({
      scenario: '4 Postgres restart',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ~${LOAD_SECONDS} s`,
      faults: `Postgres fast shutdown, then immediate shutdown (crash); ${DOWN_MS / 1000} s down each`,
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: { outages, batchFailures: await failures(), resends: report.resends },
    });
    expectClean(report);
    expect(report.applied).toBe(report.acknowledged);
    // Still the first projector process: it paused and resumed, it never crashed.
    expect(projector.running).toBe(true);
  }, 600_000);
});
