import { randomUUID } from 'node:crypto';
import { QUERY_READ_CLIENT_TIMEOUT_MS } from '../support/client-timeouts';
import { migrateDatabase } from '@sync/persistence';
import { StreamingStandby } from '../support/streaming-standby';
import {
  type FaultTopics,
  ingestEnv,
  projectorEnv,
  publishMode,
  queryEnv,
  scaled,
} from './support/environment';
import { OwnCluster } from './support/kafka-instances';
import { type BatchRecord, startLoad } from './support/load';
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload } from './support/workload';

/*
 * Scenario 11: the multi-instance topology. A three-broker cluster, two ingest instances that
 * simulated devices spread their batches over, three projectors in one consumer group and two
 * query instances: one on the Postgres primary, one on a streaming hot standby of it. Mid-load one projector is SIGKILLed and the broker leading most partitions is
 * killed (and later restarted). While the load runs, every acknowledged batch is read back with
 * `minOffset` on one query instance or the other, alternating: read-your-writes must hold on
 * both. Afterwards nothing is lost, nothing doubled, and both query instances give every library
 * the same digest.
 */

const OPS = scaled(10_000, 50_000);
const LIBRARIES = scaled(24, 50);
const LOAD_SECONDS = scaled(45, 100);
/** The longest a minOffset read may wait: covers a projector's session timeout and failover. */
const READ_WAIT_MS = 30_000;

describe('scenario 11: 3 brokers, 2 ingest, 3 projectors, 2 query (one on a standby); a projector and a broker killed', () => {
  let cluster: OwnCluster | undefined;
  let postgres: StreamingStandby | undefined;
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await cluster?.destroy();
    await postgres?.stop();
  });

  it('nothing lost or doubled; read-your-writes holds on both query instances', async () => {
    const began = Date.now();
    const suffix = randomUUID().slice(0, 8);
    const topics: FaultTopics = {
      operationsTopic: `fault-topology.${suffix}.operations`,
      deadLetterTopic: `fault-topology.${suffix}.operations.dlq`,
      consumerGroup: `fault-topology-${suffix}-projector`,
      partitions: 6,
    };
    [cluster, postgres] = await Promise.all([
      OwnCluster.start({ ...topics }),
      StreamingStandby.start(),
    ]);
    const database = { url: postgres.primaryUrl('sync') };
    await migrateDatabase(database.url);
    const brokers = cluster.brokers;
    const start = (kind: 'ingest' | 'projector' | 'query', name: string, env: object) =>
      ServiceProcess.start(kind, { name, env: env as Record<string, string> }).then((s) => {
        services.push(s);
        return s;
      });

    const ingests = await Promise.all(
      ['ingest-a', 'ingest-b'].map((name) =>
        start('ingest', name, ingestEnv(brokers, topics, database.url)),
      ),
    );
    const projectors = await Promise.all(
      [0, 1, 2].map((n) =>
        start(
          'projector',
          `projector-${n}`,
          projectorEnv(brokers, topics, database.url, { KAFKA_CLIENT_ID: `projector-${n}` }),
        ),
      ),
    );
    const queries = await Promise.all([
      start('query', 'query-primary', queryEnv(brokers, topics, database.url)),
      start('query', 'query-standby', {
        ...queryEnv(brokers, topics, database.url),
        QUERY_DATABASE_URL: postgres.standbyUrl('sync'),
      }),
    ]);
    await Promise.all([...ingests, ...projectors, ...queries].map((s) => s.ready()));

    const workload = new FaultWorkload({
      seed: 1101,
      libraries: LIBRARIES,
      recordsPerLibrary: OPS / LIBRARIES / 5,
    });
    let requestNumber = 0;
    const load = startLoad({
      // Devices spread over both ingest instances, as behind a load balancer.
      ingestUrl: () => ingests[requestNumber++ % ingests.length].url,
      workload,
      totalOps: OPS,
      batchSize: [10, 120],
      concurrency: 6,
      opsPerSecond: OPS / LOAD_SECONDS,
      backoffMs: 200,
    });

    // Read-your-writes: each acknowledged batch, read back through one query instance or the
    // other with minOffset = its last offset; the answer must show the library applied through it.
    const reads = { primary: 0, standby: 0 };
    const violations: string[] = [];
    let checked = 0;
    let loadOver = false;
    const readBack = async (batch: BatchRecord, n: number) => {
      const which = n % 2 === 0 ? 'primary' : 'standby';
      const query = queries[n % 2];
      const path =
        `/libraries/${batch.library}/status?minOffset=${batch.lastOffset}` +
        `&waitMs=${READ_WAIT_MS}`;
      try {
        const { status, text } = await query.get(path, QUERY_READ_CLIENT_TIMEOUT_MS);
        const body = JSON.parse(text) as { partition?: number; appliedOffset?: string | null };
        const applied = body.appliedOffset == null ? -1n : BigInt(body.appliedOffset);
        if (status !== 200 || body.partition !== batch.partition || applied < batch.lastOffset!) {
          violations.push(`${which} ${path}: ${status} ${text.slice(0, 200)}`);
        }
        reads[which]++;
      } catch (error) {
        violations.push(`${which} ${path}: ${String(error)}`);
      }
    };
    const reader = (async () => {
      const inFlight = new Set<Promise<void>>();
      while (!loadOver || checked < load.ledger.batches.length) {
        const batch = load.ledger.batches[checked];
        if (batch === undefined) {
          await sleep(10);
          continue;
        }
        const n = checked++;
        if (batch.status !== 202) continue;
        const read = readBack(batch, n).finally(() => inFlight.delete(read));
        inFlight.add(read);
        while (inFlight.size >= 8) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();

    while (load.sent < OPS * 0.3) await sleep(20);
    const killedProjector = projectors[1];
    await killedProjector.kill();
    while (load.sent < OPS * 0.45) await sleep(20);
    const leaders = await cluster.leaders(topics.operationsTopic);
    const victim = [...leaders].sort((a, b) => b[1] - a[1])[0][0];
    await cluster.killNode(victim);
    while (load.sent < OPS * 0.75) await sleep(20);
    await cluster.startNode(victim);
    const ledger = await load.done;
    loadOver = true;
    await reader;

    const answers = ledger.answers();
    expect(
      Object.keys(answers).filter((a) => a !== '202' && a !== '503 BROKER_UNAVAILABLE'),
    ).toEqual([]);
    // On a violation, what the surviving projectors did (assignments, pauses, failures) says why.
    const survivors = violations.length === 0 ? [] : projectors.filter((p) => p.running);
    expect({ violations, logs: survivors.map((p) => `${p.name}:\n${p.tail(60)}`) }).toEqual({
      violations: [],
      logs: [],
    });
    // Both query instances served read-your-writes reads.
    expect(reads.primary).toBeGreaterThan(10);
    expect(reads.standby).toBeGreaterThan(10);

    const report = await verifyPipeline({
      scenario: 'topology: projector and broker killed',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger,
      queryUrl: queries[0].url,
    });
    // The two query instances agree on every library's state (the standby once it caught up).
    await postgres.caughtUp();
    const digestsDiffer: string[] = [];
    for (const library of ledger.libraries) {
      const [a, b] = await Promise.all(
        queries.map((q) => q.get(`/libraries/${library}/digest`, QUERY_READ_CLIENT_TIMEOUT_MS)),
      );
      if (a.status !== 200 || a.text !== b.text)
        digestsDiffer.push(`${library}: ${a.text} / ${b.text}`);
    }
    reportResult({
      scenario: '11 topology 3 brokers, 2 ingest, 3 projectors, 2 query (1 on a standby)',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ~${LOAD_SECONDS} s over 2 ingest instances, publish mode ${publishMode()}`,
      faults: `SIGKILL of projector-1; SIGKILL of broker ${victim} (leader of ${leaders.get(victim)}/6 partitions), restarted`,
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: { answers, readYourWrites: reads },
    });
    expect(digestsDiffer).toEqual([]);
    expectClean(report);
    expect(report.applied).toBe(report.acknowledged);
  }, 600_000);
});
