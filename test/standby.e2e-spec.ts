import { randomUUID } from 'node:crypto';
import { migrateDatabase } from '@sync/persistence';
import { Client, type QueryResultRow } from 'pg';
import { hybridAt } from './ingest-fixtures';
import {
  type FaultTopics,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  queryEnv,
} from './faults/support/environment';
import { startLoad } from './faults/support/load';
import { ServiceProcess, metricValue } from './faults/support/services';
import { FaultWorkload } from './faults/support/workload';
import { QUERY_READ_CLIENT_TIMEOUT_MS } from './support/client-timeouts';
import { SseReader } from './support/sse-reader';
import { StreamingStandby } from './support/streaming-standby';
import { eventually, kafkaBrokers } from './support/test-env';

/*
 * The query service on a hot standby: the projector writes the primary, the query reads a
 * streaming standby of it (both started by the test from the machine's Postgres binaries).
 * Read-your-writes must hold against the standby's replay, not the primary's commit.
 */

const DEVICES = 8;
const WRITES_PER_DEVICE = 40;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describe('query on a streaming standby', () => {
  let pg: StreamingStandby | undefined;
  let topics: FaultTopics;
  let primaryUrl: string;
  const services: ServiceProcess[] = [];
  let ingest: ServiceProcess;
  let query: ServiceProcess;

  beforeAll(async () => {
    const brokers = kafkaBrokers();
    pg = await StreamingStandby.start();
    primaryUrl = pg.primaryUrl('sync');
    await migrateDatabase(primaryUrl);
    topics = await createTopics(brokers, 'standby', 3);
    let projector: ServiceProcess;
    [ingest, projector, query] = await Promise.all([
      ServiceProcess.start('ingest', { env: ingestEnv(brokers, topics, primaryUrl) }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, topics, primaryUrl) }),
      ServiceProcess.start('query', {
        env: {
          ...queryEnv(brokers, topics, primaryUrl),
          QUERY_DATABASE_URL: pg.standbyUrl('sync'),
        },
      }),
    ]);
    services.push(ingest, projector, query);
    await Promise.all(services.map((s) => s.ready()));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all([pg?.stop(), topics && deleteTopics(kafkaBrokers(), topics)]);
  });

  const post = async (library: string, ops: unknown[]): Promise<bigint> => {
    const response = await fetch(`${ingest.url}/libraries/${library}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ops),
    });
    const body = (await response.json()) as { lastOffset?: string };
    if (response.status !== 202 || body.lastOffset === undefined) {
      throw new Error(`POST answered ${response.status} ${JSON.stringify(body)}`);
    }
    return BigInt(body.lastOffset);
  };
  const get = async (path: string): Promise<Answer> => {
    const response = await fetch(`${query.url}${path}`, {
      signal: AbortSignal.timeout(QUERY_READ_CLIENT_TIMEOUT_MS),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const tag = (recordId: string, node: string, name: string, create: boolean) =>
    create
      ? {
          type: 'CREATE',
          recordId,
          model: 'Tag',
          data: { name },
          node,
          timestamp: { hybrid: hybridAt() },
        }
      : {
          type: 'UPDATE',
          recordId,
          field: 'name',
          value: name,
          node,
          timestamp: { hybrid: hybridAt() },
        };
  /** A statement on the primary (the projector's database), not through the query service. */
  const onPrimary = async <T extends QueryResultRow>(sql: string, params: unknown[]) => {
    const client = new Client({ connectionString: primaryUrl });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  /** The projector's own position of a partition. */
  const primaryNextOffset = async (partition: number): Promise<bigint> => {
    const rows = await onPrimary<{ next_offset: string }>(
      'SELECT next_offset FROM partition_offsets WHERE topic = $1 AND partition = $2',
      [topics.operationsTopic, partition],
    );
    return BigInt(rows[0]?.next_offset ?? '0');
  };

  it('knows it reads a standby: no LISTEN there, the standby is polled', async () => {
    const { text } = await query.get('/metrics');
    expect(metricValue(text, 'query_read_database_standby')).toBe(1);
    expect(metricValue(text, 'query_applied_listener_connected')).toBe(0);
    expect(query.output.join('\n')).toMatch(/the read database is a standby/);
  });

  it('every write is seen by an immediate minOffset read on the standby, under load', async () => {
    // Other devices keep the pipeline busy meanwhile.
    const background = startLoad({
      ingestUrl: () => ingest.url,
      workload: new FaultWorkload({ seed: 19, libraries: 12, recordsPerLibrary: 40 }),
      totalOps: 100_000,
      batchSize: [20, 100],
      concurrency: 3,
    });
    const misses: string[] = [];
    const device = async (d: number): Promise<void> => {
      const library = randomUUID();
      const record = randomUUID();
      const node = randomUUID();
      for (let i = 0; i < WRITES_PER_DEVICE; i++) {
        const name = `device ${d} write ${i}`;
        const lastOffset = await post(library, [tag(record, node, name, i === 0)]);
        const read = await get(
          `/libraries/${library}/records/${record}?minOffset=${lastOffset}&waitMs=30000`,
        );
        const data = read.body.data as { name?: string } | undefined;
        if (read.status !== 200 || data?.name !== name) {
          misses.push(`${name} at ${lastOffset}: ${read.status} ${JSON.stringify(read.body)}`);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: DEVICES }, (_, d) => device(d)));
    } finally {
      background.stop();
    }
    const ledger = await background.done;
    expect(misses).toEqual([]);
    expect(ledger.answers()['202']).toBeGreaterThan(0);
    // The reads waited for the standby (woken by polling it) and none timed out.
    const { text } = await query.get('/metrics');
    const waited = metricValue(text, 'query_min_offset_wait_seconds_count', { outcome: 'applied' });
    expect(waited).toBeGreaterThan(0);
    expect(
      metricValue(text, 'query_min_offset_wait_seconds_count', { outcome: 'timeout' }) ?? 0,
    ).toBe(0);
  }, 300_000);

  it('waits for the standby to replay, reports its lag, and streams /changes once it does', async () => {
    if (!pg) throw new Error('no standby');
    const library = randomUUID();
    const record = randomUUID();
    const node = randomUUID();
    const first = await post(library, [tag(record, node, 'before', true)]);
    expect((await get(`/libraries/${library}/records/${record}?minOffset=${first}`)).status).toBe(
      200,
    );
    const status = await get(`/libraries/${library}/status?replica=true`);
    const partition = status.body.partition as number;

    await pg.pauseReplay(true);
    try {
      const stream = await SseReader.open(
        `${query.url}/libraries/${library}/changes?after=${first}`,
      );
      try {
        const paused = await post(library, [tag(record, node, 'after', false)]);
        // Applied on the primary...
        await eventually(
          async () => ((await primaryNextOffset(partition)) > paused ? true : undefined),
          30_000,
        );
        // ...but not replayed on the standby: the read must not pretend it is.
        const early = await get(
          `/libraries/${library}/records/${record}?minOffset=${paused}&waitMs=1500`,
        );
        expect(early.status).toBe(503);
        expect(early.body.error).toBe('NOT_YET_APPLIED');
        const lagging = await get(`/libraries/${library}/status?replica=true`);
        expect(BigInt(lagging.body.appliedOffset as string)).toBeLessThan(paused);
        expect(lagging.body.replica).toMatchObject({
          standby: true,
          replayLsn: expect.any(String),
          primaryLsn: expect.any(String),
          lagBytes: expect.any(Number),
          lagSeconds: expect.any(Number),
        });
        const replica = lagging.body.replica as {
          lagBytes: number;
          primaryAppliedOffset: string;
          offsetsBehind: number;
        };
        expect(replica.lagBytes).toBeGreaterThan(0);
        expect(BigInt(replica.primaryAppliedOffset)).toBeGreaterThanOrEqual(paused);
        expect(replica.offsetsBehind).toBeGreaterThanOrEqual(1);
        expect(stream.events).toEqual([]);

        const waiting = get(
          `/libraries/${library}/records/${record}?minOffset=${paused}&waitMs=30000`,
        );
        await pg.pauseReplay(false);
        const read = await waiting;
        expect(read.status).toBe(200);
        expect((read.body.data as { name: string }).name).toBe('after');
        // The change stream on the standby delivers the replayed change.
        await eventually(
          () => Promise.resolve(stream.events.length > 0 ? true : undefined),
          20_000,
        );
        expect(stream.events[0]).toMatchObject({
          id: paused.toString(),
          event: 'record',
          data: { id: record, offset: paused.toString(), data: { name: 'after' } },
        });
      } finally {
        await stream.close();
      }
    } finally {
      await pg.pauseReplay(false);
    }

    await pg.caughtUp();
    const caughtUp = await get(`/libraries/${library}/status?replica=true`);
    expect(caughtUp.body.replica).toMatchObject({ standby: true, offsetsBehind: 0 });
    // Without replica=true the status is exactly the contract's shape.
    const plain = await get(`/libraries/${library}/status`);
    expect(Object.keys(plain.body).sort()).toEqual([
      'appliedOffset',
      'partition',
      'pending',
      'records',
      'rejected',
      'relations',
    ]);
    const pipeline = await get('/pipeline');
    expect(pipeline.body.replica).toMatchObject({ standby: true, lagBytes: expect.any(Number) });
  }, 120_000);

  it('writes what the query service writes, a node feed position, to the primary', async () => {
    const library = randomUUID();
    const node = randomUUID();
    const offset = await post(library, [tag(randomUUID(), node, 'pulled', true)]);
    const feed = await get(
      `/libraries/${library}/operations?after=-1&node=${node}&minOffset=${offset}`,
    );
    expect(feed.status).toBe(200);
    expect(feed.body.items).toHaveLength(1);
    const rows = await onPrimary<{ pulled_through: string }>(
      'SELECT pulled_through FROM node_positions WHERE library_id = $1 AND node = $2',
      [library, node],
    );
    expect(rows).toEqual([{ pulled_through: '-1' }]);
  });
});
