import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createTestDatabase } from '../support/test-env';
import {
  type FaultTopics,
  type InProcessQuery,
  ingestEnv,
  projectorEnv,
  publishMode,
  scaled,
  startQuery,
} from './support/environment';
import { OwnCluster } from './support/kafka-instances';
import { startLoad } from './support/load';
import { ServiceProcess, sleep } from './support/services';
import { expectClean, reportResult, verifyPipeline } from './support/verify';
import { FaultWorkload } from './support/workload';

/*
 * Scenario 5: a three-broker Kafka cluster on loopback ports (replication factor 3,
 * min.insync.replicas 2). The broker leading most of the ops topic's partitions is killed
 * (SIGKILL) mid-load, and later started again. No acknowledged op may be lost (acks from all
 * in-sync replicas), nothing refused may appear, and the ingest must keep accepting. Produce
 * requests in flight at the kill wait ~9 s for the dead replica to leave the in-sync set; the
 * ingest must wait for that outcome rather than answer "not accepted" for a batch Kafka then
 * stores.
 */

const OPS = scaled(12_000, 50_000);
const LIBRARIES = scaled(30, 50);
const LOAD_SECONDS = scaled(45, 100);
/** Longest the ingest may go without acknowledging anything after the kill (leader failover). */
const MAX_ACK_GAP_MS = 30_000;

describe('scenario 5: three-broker cluster, one broker killed mid-load', () => {
  let cluster: OwnCluster | undefined;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const services: ServiceProcess[] = [];
  let query: InProcessQuery | undefined;

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await query?.close();
    await cluster?.destroy();
    await database?.drop();
  });

  it('no acknowledged op is lost, the ingest keeps accepting', async () => {
    const began = Date.now();
    const suffix = randomUUID().slice(0, 8);
    const topics: FaultTopics = {
      operationsTopic: `fault-cluster.${suffix}.operations`,
      deadLetterTopic: `fault-cluster.${suffix}.operations.dlq`,
      consumerGroup: `fault-cluster-${suffix}-projector`,
      partitions: 6,
    };
    [cluster, database] = await Promise.all([
      OwnCluster.start({ ...topics }),
      createTestDatabase('fault_cluster'),
    ]);
    const brokers = cluster.brokers;
    const clusterStartedSeconds = (Date.now() - began) / 1000;
    await expectReplicated(brokers, topics.operationsTopic);

    const [ingest, projector] = await Promise.all([
      ServiceProcess.start('ingest', { env: ingestEnv(brokers, topics, database.url) }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, topics, database.url) }),
    ]);
    services.push(ingest, projector);
    await ingest.ready();

    const workload = new FaultWorkload({
      seed: 505,
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

    while (load.sent < OPS * 0.3) await sleep(20);
    const leaders = await cluster.leaders(topics.operationsTopic);
    const victim = [...leaders].sort((a, b) => b[1] - a[1])[0][0];
    await cluster.killNode(victim);
    const killedAt = Date.now();

    while (load.sent < OPS * 0.75) await sleep(20);
    const restartAt = Date.now();
    await cluster.startNode(victim);
    const restartSeconds = (Date.now() - restartAt) / 1000;
    const ledger = await load.done;

    // Only acknowledgements and prompt refusals (no 500, no request left hanging).
    const answers = ledger.answers();
    expect(
      Object.keys(answers).filter((a) => a !== '202' && a !== '503 BROKER_UNAVAILABLE'),
    ).toEqual([]);
    // The ingest kept accepting: acknowledgements after the kill, with bounded gaps.
    const acks = ledger.batches
      .filter((b) => b.status === 202 && b.endedAt >= killedAt)
      .map((b) => b.endedAt)
      .sort((a, b) => a - b);
    expect(acks.length).toBeGreaterThan(10);
    const gaps = [acks[0] - killedAt, ...acks.slice(1).map((t, i) => t - acks[i])];
    const longestGap = Math.max(...gaps);
    const downWhile = ledger.batches.filter(
      (b) => b.startedAt >= killedAt && b.endedAt <= restartAt,
    );
    const acceptedWhileDown = downWhile.filter((b) => b.status === 202).length;
    expect(longestGap).toBeLessThan(MAX_ACK_GAP_MS);
    expect(acceptedWhileDown).toBeGreaterThan(downWhile.length / 2);

    query = await startQuery(database.url, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'Kafka cluster, one broker killed',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger,
      queryUrl: query.url,
    });
    reportResult({
      scenario: '5 3-broker cluster, broker killed',
      scale: scaled('ci', 'full'),
      load: `${OPS} ops / ${LIBRARIES} libraries over ~${LOAD_SECONDS} s, publish mode ${publishMode()}`,
      faults: `SIGKILL of node ${victim} (leader of ${leaders.get(victim)}/6 partitions), restarted later`,
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: {
        answers,
        acceptedWhileDown: `${acceptedWhileDown}/${downWhile.length}`,
        longestAckGapMs: longestGap,
        clusterStartedSeconds,
        restartSeconds,
      },
    });
    if (report.phantoms > 0) console.log(`[faults] ingest log tail:\n${ingest.tail(60)}`);
    expectClean(report);
    expect(report.applied).toBe(report.acknowledged);
  }, 600_000);
});

/** The ops topic really is replicated 3 ways with min.insync.replicas 2. */
async function expectReplicated(brokers: string[], topic: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'fault-cluster',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0].partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3, 3, 3, 3]);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }],
    });
    expect(configs.resources[0].configEntries[0].configValue).toBe('2');
  } finally {
    await admin.disconnect();
  }
}
