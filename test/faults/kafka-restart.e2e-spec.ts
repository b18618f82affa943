import { INGEST_PUBLISH_CLIENT_TIMEOUT_MS } from '../support/client-timeouts';
import { createTestDatabase } from '../support/test-env';
import {
  type FaultTopics,
  type InProcessQuery,
  createTopics,
  ingestEnv,
  projectorEnv,
  publishMode,
  scaled,
  startQuery,
  waitUntil,
} from './support/environment';
import { OwnBroker } from './support/kafka-instances';
import { type Ledger, startLoad } from './support/load';
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload } from './support/workload';

/*
 * Scenario 3: the Kafka broker goes away twice during the load (a graceful stop, then a SIGKILL
 * crash) and comes back on the same ports and data. The broker is our own (kafka.sh on free
 * ports), never the shared one. While it is down the ingest must answer 503 BROKER_UNAVAILABLE,
 * promptly; it must never acknowledge an op it did not store: after the restarts every
 * acknowledged op is applied, and no op that got a non-2xx answer is.
 */

const OPS = scaled(10_000, 50_000);
const LIBRARIES = scaled(30, 50);
const LOAD_SECONDS = scaled(40, 90);
const DOWN_MS = 7000;
const PUBLISH_TIMEOUT_MS = 3000;
/** Broker start with log recovery after a SIGKILL (about 13 s measured), with head room. */
const BROKER_RESTART_MS = 30_000;
/**
 * First acknowledgement after a restart: the broker is back, then a request sent after it may
 * take its whole answer deadline (it may have been written just before the broker took it).
 */
const RECOVERY_WAIT_MS = BROKER_RESTART_MS + INGEST_PUBLISH_CLIENT_TIMEOUT_MS;

interface Outage {
  how: string;
  /** The broker process is gone from here... */
  downAt: number;
  /** ...to here (its restart begins). */
  upAt: number;
  /** First acknowledgement after the restart. */
  recoveredAt?: number;
}

describe('scenario 3: Kafka broker restarted during load', () => {
  let broker: OwnBroker | undefined;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: FaultTopics;
  const services: ServiceProcess[] = [];
  let query: InProcessQuery | undefined;

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await query?.close();
    await broker?.destroy();
    await database?.drop();
  });

  it('503 while down, nothing acknowledged is lost, nothing refused is applied', async () => {
    const began = Date.now();
    broker = await OwnBroker.start();
    const brokers = broker.brokers;
    database = await createTestDatabase('fault_kafka');
    topics = await createTopics(brokers, 'fault-kafka', 3);
    const [ingest, projector] = await Promise.all([
      ServiceProcess.start('ingest', {
        env: ingestEnv(brokers, topics, database.url, {
          INGEST_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
        }),
      }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, topics, database.url) }),
    ]);
    services.push(ingest, projector);
    await ingest.ready();

    const workload = new FaultWorkload({
      seed: 303,
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
      backoffMs: 200,
    });
    const ackedAfter = (ledger: Ledger, at: number) =>
      ledger.batches.find((b) => b.status === 202 && b.startedAt >= at)?.endedAt;

    const outages: Outage[] = [];
    for (const [how, at] of [
      ['graceful stop', 0.2],
      ['SIGKILL', 0.55],
    ] as const) {
      while (load.sent < OPS * at) await sleep(20);
      if (how === 'SIGKILL') await broker.kill();
      else await broker.stop();
      const outage: Outage = { how, downAt: Date.now(), upAt: 0 };
      await sleep(DOWN_MS);
      outage.upAt = Date.now();
      outages.push(outage);
      await broker.startAgain();
      // The ingest recovers by itself (no restart): acknowledgements resume.
      await waitUntil(
        () => ackedAfter(load.ledger, outage.upAt) !== undefined,
        RECOVERY_WAIT_MS,
        100,
      );
      outage.recoveredAt = ackedAfter(load.ledger, outage.upAt);
    }
    const ledger = await load.done;

    // While the broker was down, every answer was a prompt 503 BROKER_UNAVAILABLE.
    const duringOutages = ledger.batches.filter((b) =>
      outages.some((o) => b.startedAt >= o.downAt && b.endedAt <= o.upAt),
    );
    const unexpected = duringOutages.filter(
      (b) => b.status !== 503 || b.code !== 'BROKER_UNAVAILABLE',
    );
    expect(unexpected.map((b) => `${b.status} ${b.code ?? ''}`)).toEqual([]);
    expect(duringOutages.length).toBeGreaterThanOrEqual(3);
    const slowest = Math.max(...duringOutages.map((b) => b.endedAt - b.startedAt));
    expect(slowest).toBeLessThan(PUBLISH_TIMEOUT_MS + 2000);
    for (const outage of outages) expect(outage.recoveredAt).toBeDefined();
    // Only 202 and 503 were ever answered (no 500, no hung request).
    expect(Object.keys(ledger.answers()).sort()).toEqual(['202', '503 BROKER_UNAVAILABLE']);

    query = await startQuery(database.url, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'Kafka broker restart',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger,
      queryUrl: query.url,
    });
    reportResult({
      scenario: '3 Kafka broker restart',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ~${LOAD_SECONDS} s, publish mode ${publishMode()}`,
      faults: `broker stopped (SIGTERM) and killed (SIGKILL), ${DOWN_MS / 1000} s down each`,
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: {
        answers: ledger.answers(),
        refusedOps: report.refused,
        answeredWhileDown: duringOutages.length,
        slowest503Ms: slowest,
        recoveryMs: outages.map((o) => (o.recoveredAt ?? 0) - o.upAt),
      },
    });
    expectClean(report);
    expect(report.refused).toBeGreaterThan(0);
    expect(report.applied).toBe(report.acknowledged);
  }, 600_000);
});
