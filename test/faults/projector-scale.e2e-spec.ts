import { createTestDatabase, kafkaBrokers } from '../support/test-env';
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
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload } from './support/workload';

/*
 * Scenario 2: scale out and in while ops stream in: one projector, then three (two join the
 * group: rebalances), then one again (two leave with a graceful shutdown, mid-stream). Every
 * member must have applied a share, and the result must be exactly the reference state.
 */

const OPS = scaled(15_000, 100_000);
const LIBRARIES = 50;
const LOAD_SECONDS = scaled(35, 120);

describe('scenario 2: scale out and in during load (1 -> 3 -> 1 projectors)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: FaultTopics;
  const services: ServiceProcess[] = [];
  let query: InProcessQuery | undefined;

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await query?.close();
    await Promise.all([database?.drop(), topics && deleteTopics(kafkaBrokers(), topics)]);
  });

  it(`${OPS} ops over ${LIBRARIES} libraries: every member applies a share, state = reference, exactly once`, async () => {
    const began = Date.now();
    const brokers = kafkaBrokers();
    database = await createTestDatabase('fault_scale');
    topics = await createTopics(brokers, 'fault-scale', 6);
    const startProjector = async (name: string) => {
      const service = await ServiceProcess.start('projector', {
        name,
        env: projectorEnv(brokers, topics, database.url, { KAFKA_CLIENT_ID: name }),
      });
      services.push(service);
      return service;
    };
    const [ingest, first] = await Promise.all([
      ServiceProcess.start('ingest', { env: ingestEnv(brokers, topics, database.url) }),
      startProjector('projector-a'),
    ]);
    services.push(ingest);
    await ingest.ready();

    const workload = new FaultWorkload({
      seed: 202,
      libraries: LIBRARIES,
      recordsPerLibrary: OPS / LIBRARIES / 5,
    });
    const load = startLoad({
      ingestUrl: () => ingest.url,
      workload,
      totalOps: OPS,
      batchSize: [20, 200],
      concurrency: 8,
      opsPerSecond: OPS / LOAD_SECONDS,
    });
    const applied = async (service: ServiceProcess) =>
      (await service.metric('projector_operations_applied_total')) ?? 0;

    // Scale out: two more members join while the first is applying.
    await waitUntil(async () => (await applied(first)) > 0, 60_000);
    while (load.sent < OPS * 0.25) await sleep(20);
    const [second, third] = await Promise.all([
      startProjector('projector-b'),
      startProjector('projector-c'),
    ]);
    // Each new member gets partitions and applies some of them.
    const sharing = await waitUntil(
      async () => (await applied(second)) > 0 && (await applied(third)) > 0,
      60_000,
      250,
    );
    const outShares = await Promise.all([first, second, third].map(applied));
    expect(sharing).toBe(true);

    // Scale in while the load goes on: the two leave gracefully, their partitions move back.
    while (load.sent < OPS * 0.65) await sleep(20);
    const firstBefore = await applied(first);
    const [secondEnd, thirdEnd] = await Promise.all([second.stop(), third.stop()]);
    // Nest re-raises SIGTERM once its shutdown hooks ran; SIGKILL would mean stop() gave up.
    expect([secondEnd.signal, thirdEnd.signal]).toEqual(['SIGTERM', 'SIGTERM']);
    const ledger = await load.done;
    const loadSeconds = (Date.now() - began) / 1000;
    expect(ledger.answers()).toEqual({ '202': ledger.batches.length });
    // After the scale-in the first member takes the whole load again.
    await waitUntil(async () => (await applied(first)) > firstBefore, 60_000);

    query = await startQuery(database.url, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'projector scale 1-3-1',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger,
      queryUrl: query.url,
    });
    reportResult({
      scenario: '2 scale out/in 1-3-1',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ${LOAD_SECONDS} s`,
      faults: '2 projectors join (rebalance), later leave gracefully mid-stream',
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: { loadSeconds, appliedWhileThree: outShares, resends: report.resends },
    });
    expectClean(report);
    expect(report.applied).toBe(report.acknowledged);
    expect(outShares.every((n) => n > 0)).toBe(true);
  }, 600_000);
});
