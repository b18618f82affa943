import { createTestDatabase, kafkaBrokers } from '../support/test-env';
import {
  type FaultTopics,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  scaled,
  startQuery,
  waitUntil,
  type InProcessQuery,
} from './support/environment';
import { startLoad } from './support/load';
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload, prng } from './support/workload';

/*
 * Scenario 1: the projector is killed with SIGKILL at random moments while ops stream in through
 * the ingest, and restarted each time. Afterwards the state equals the reference model's, and
 * the op log holds every acknowledged op exactly once.
 */

const OPS = scaled(20_000, 100_000);
const LIBRARIES = 50;
const KILLS = 5;
/** The load is paced to last about this long, so that every kill lands while ops stream in. */
const LOAD_SECONDS = scaled(45, 110);

describe('scenario 1: projector killed (SIGKILL) at random moments under load', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: FaultTopics;
  let ingest: ServiceProcess | undefined;
  let projector: ServiceProcess | undefined;
  let query: InProcessQuery | undefined;

  afterAll(async () => {
    await projector?.kill();
    await ingest?.stop();
    await query?.close();
    await Promise.all([database?.drop(), topics && deleteTopics(kafkaBrokers(), topics)]);
  });

  it(`${OPS} ops over ${LIBRARIES} libraries, ${KILLS} kills: state = reference, every acknowledged op applied exactly once`, async () => {
    const began = Date.now();
    const brokers = kafkaBrokers();
    database = await createTestDatabase('fault_kill');
    topics = await createTopics(brokers, 'fault-kill', 6);
    const startProjector = (n: number) =>
      ServiceProcess.start('projector', {
        name: `projector-${n}`,
        env: projectorEnv(brokers, topics, database.url, { KAFKA_CLIENT_ID: `projector-${n}` }),
      });
    [ingest, projector] = await Promise.all([
      ServiceProcess.start('ingest', { env: ingestEnv(brokers, topics, database.url) }),
      startProjector(0),
    ]);
    await ingest.ready();

    const workload = new FaultWorkload({
      seed: 101,
      libraries: LIBRARIES,
      recordsPerLibrary: OPS / LIBRARIES / 5,
    });
    let killsDone!: () => void;
    const kills = new Promise<void>((resolve) => (killsDone = resolve));
    const load = startLoad({
      ingestUrl: () => ingest!.url,
      workload,
      totalOps: OPS,
      batchSize: [20, 200],
      concurrency: 8,
      opsPerSecond: OPS / LOAD_SECONDS,
      // A restart takes seconds on a busy machine: the last ops wait for the kills.
      holdTail: { fraction: 0.1, until: kills },
    });

    // Kill moments: random (seeded, so a failure can be replayed), each once the current
    // projector is applying ops, so that the kills hit a working process, mostly mid-batch.
    const random = prng(7);
    while (load.sent < OPS * 0.1) await sleep(20);
    const appliedBeforeKill: number[] = [];
    let killedDuringLoad = 0;
    for (let k = 0; k < KILLS; k++) {
      const current = projector;
      await waitUntil(
        async () => ((await current.metric('projector_operations_applied_total')) ?? 0) > 0,
        60_000,
        100,
      );
      await sleep(300 + Math.floor(random() * 2500));
      appliedBeforeKill.push((await current.metric('projector_operations_applied_total')) ?? 0);
      if (load.sent < OPS) killedDuringLoad++;
      await current.kill();
      await sleep(Math.floor(random() * 1000));
      projector = await startProjector(k + 1);
    }
    killsDone();
    const ledger = await load.done;
    const loadSeconds = (Date.now() - began) / 1000;
    // Every incarnation was applying ops when it died, and the load outlasted most kills.
    expect(appliedBeforeKill.every((n) => n > 0)).toBe(true);
    expect(killedDuringLoad).toBeGreaterThanOrEqual(KILLS - 1);
    expect(ledger.answers()).toEqual({ '202': ledger.batches.length });

    query = await startQuery(database.url, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'projector SIGKILL',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger,
      queryUrl: query.url,
    });
    reportResult({
      scenario: '1 projector SIGKILL',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ${LOAD_SECONDS} s`,
      faults: `${KILLS} x SIGKILL projector + restart`,
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: {
        loadSeconds,
        resends: report.resends,
        records: report.records,
        relations: report.relations,
        pending: report.pending,
        appliedBeforeKill,
        killedDuringLoad,
      },
    });
    expectClean(report);
    expect(report.acknowledged).toBeGreaterThan(OPS * 0.9);
    expect(report.applied).toBe(report.acknowledged);
  }, 600_000);
});
