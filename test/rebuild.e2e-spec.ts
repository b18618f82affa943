import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import { partitionForLibrary } from '@sync/kafka';
import { APPLIED_CHANNEL } from '@sync/persistence';
import { createQueryApp } from '../apps/query/src/query.app';
import { readQueryConfig } from '../apps/query/src/query.config';
import {
  type RunningProjector,
  TestClock,
  Tables,
  nodes,
  op,
  opMessages,
  produce,
  randomWorkload,
  startProjector,
  testKafka,
  uuid,
  waitForCatchUp,
} from './projector.harness';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  eventually,
  kafkaBrokers,
} from './support/test-env';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

const ROOT = path.join(__dirname, '..');

/**
 * Every projection table, every column the migrations gave it except wall-clock timestamps
 * (columns added later are compared too), rows in a stable order.
 */
async function dump(tables: Tables, schema = 'public'): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  const names: Record<string, string> = {
    libraries: 'libraries',
    records: 'records',
    relations: 'relations',
    operations: 'operations',
    pending: 'pending_operations',
    rejected: 'rejected_operations',
    positions: 'partition_offsets',
  };
  for (const [key, table] of Object.entries(names)) {
    const columns = await tables.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = $2 AND data_type NOT LIKE 'timestamp%'
        ORDER BY ordinal_position`,
      [schema, table],
    );
    const list = columns.map((c) => `"${c.column_name}"`).join(', ');
    const order = columns.map((_, i) => i + 1).join(', ');
    out[key] = await tables.query(`SELECT ${list} FROM "${schema}"."${table}" ORDER BY ${order}`);
  }
  return out;
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `cli rebuild ...` as a real child process (the CLI runs the projector's entry point). For
 * SIGKILL, the projector's entry point itself: the CLI cannot forward a SIGKILL to its child.
 */
function runRebuild(
  args: string[],
  env: Record<string, string>,
  interruptWhen?: (stderr: string) => boolean,
  signal: NodeJS.Signals = 'SIGINT',
): Promise<ChildResult> {
  const entry =
    signal === 'SIGKILL'
      ? ['apps/projector/src/rebuild.main.ts']
      : ['apps/cli/src/main.ts', 'rebuild'];
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/projector.child-register.js', ...entry, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let interrupted = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!interrupted && interruptWhen?.(stderr)) {
        interrupted = true;
        child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `step` every `intervalMs` until stopped; counts runs and keeps every failure. */
function loop(step: () => Promise<void>, intervalMs: number) {
  let running = true;
  let runs = 0;
  const failures: string[] = [];
  const done = (async () => {
    while (running) {
      try {
        await step();
        runs++;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    get runs() {
      return runs;
    },
    failures,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('projection rebuild without downtime', () => {
  let database: TestDatabase;
  let reference: TestDatabase;
  let topics: TestTopics;
  let kafka: Kafka;
  let producer: Producer;
  let tables: Tables;
  let referenceTables: Tables;
  let projector: RunningProjector | undefined;
  let query: INestApplication | undefined;
  let queryUrl: string;
  let env: Record<string, string>;

  // Two libraries on each of the 3 partitions, so every partition has a position to announce.
  const libraries = librariesCovering(3, 2);
  const trafficLibrary = uuid();

  beforeAll(async () => {
    database = await createTestDatabase('rebuild');
    reference = await createTestDatabase('rebuildref');
    topics = await createTestTopics('rebuild', 3);
    kafka = testKafka('rebuild-test');
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    tables = new Tables(database.url);
    referenceTables = new Tables(reference.url);
    env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SYNC_TOPIC: topics.operationsTopic,
      SYNC_DLQ_TOPIC: topics.deadLetterTopic,
      PROJECTOR_GROUP: topics.consumerGroup,
      DATABASE_URL: database.url,
    };
    projector = await startProjector(database.url, topics);
    query = await createQueryApp(readQueryConfig({ ...env, SYNC_AUTH_DISABLED: 'true' }));
    query.useLogger(['error']);
    await query.listen(0, '127.0.0.1');
    queryUrl = `http://127.0.0.1:${(query.getHttpServer() as { address(): AddressInfo }).address().port}`;
  }, 120_000);

  /** Brings the reference database to the end of the topic with a projector of its own. */
  async function projectReference(): Promise<void> {
    const fresh = await startProjector(reference.url, topics, {
      groupId: `${topics.consumerGroup}-reference`,
    });
    try {
      await waitForCatchUp(kafka, referenceTables, topics.operationsTopic, 120_000);
    } finally {
      await fresh.stop();
    }
  }

  afterAll(async () => {
    await query?.close();
    await projector?.stop();
    await producer?.disconnect();
    await tables?.close();
    await referenceTables?.close();
    await Promise.all([database?.drop(), reference?.drop(), deleteTestTopics(topics)]);
  });

  it('prints its options with exit 0 and refuses bad ones with exit 2', async () => {
    const help = await runRebuild(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--dry-run');
    expect(help.stdout).toContain('--drop-old');
    const bad = await runRebuild(['--max-lag', 'lots'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-lag must be a whole number');
  }, 60_000);

  it('replaces wrong live state by a replay of the topic, while serving and applying', async () => {
    // A mixed workload: records, relations, ops before their CREATE (pending), rejections,
    // duplicates, over several libraries on every partition, and a few poison messages.
    const messages = libraries.flatMap((library, i) =>
      opMessages(library, randomWorkload(100 + i, { records: 50, ops: 3000 })),
    );
    messages.push({ key: libraries[0], value: '{not json' }, { key: null, value: '{}' });
    await produce(producer, topics.operationsTopic, messages);
    await waitForCatchUp(kafka, tables, topics.operationsTopic, 120_000);

    // A merge-rule bug, as it leaves the tables: what a wrong rule would have written, written
    // here by hand (field values and clocks, deleted flags, missing relations and feed rows,
    // a wrong rejection reason, wrong counters). A replay under the right rules must undo all.
    await tables.query(
      `UPDATE records SET data = data || '{"bug": true}', clocks = '{}'
        WHERE record_id IN (SELECT record_id FROM records ORDER BY record_id LIMIT 40)`,
    );
    await tables.query(
      `UPDATE records SET deleted = NOT deleted
        WHERE record_id IN (SELECT record_id FROM records ORDER BY record_id DESC LIMIT 10)`,
    );
    await tables.query(
      `DELETE FROM relations WHERE (library_id, relation, item_id, group_id) IN
         (SELECT library_id, relation, item_id, group_id FROM relations ORDER BY 1, 2, 3, 4 LIMIT 10)`,
    );
    await tables.query(
      `DELETE FROM operations WHERE (library_id, log_offset) IN
         (SELECT library_id, log_offset FROM operations ORDER BY log_offset DESC LIMIT 5)`,
    );
    await tables.query(
      `UPDATE rejected_operations SET reason = 'UNKNOWN_FIELD', message = 'wrong rule'
        WHERE log_offset IN (SELECT log_offset FROM rejected_operations ORDER BY 1 LIMIT 5)`,
    );
    await tables.query(`UPDATE libraries SET operations = operations + 7`);
    const corrupted = await dump(tables);
    const indexesBefore = await tables.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
    );

    // Live traffic all through the rebuild: the live projector keeps applying it.
    const traffic = randomWorkload(7, { records: 30, ops: 40_000 });
    let sent = 0;
    const producing = loop(async () => {
      if (sent >= traffic.length) return;
      await produce(
        producer,
        topics.operationsTopic,
        opMessages(trafficLibrary, traffic.slice(sent, sent + 20)),
      );
      sent += 20;
    }, 25);
    // Readers all through it, on the tables and through the query service: none may fail.
    let turn = 0;
    // Who notifies sync_applied: the replay must stay silent (query services take every
    // notification as the live position), the switch must announce the new tables' positions.
    const listener = new Client({ connectionString: database.url });
    await listener.connect();
    const notifiers: number[] = [];
    listener.on('notification', (message) => notifiers.push(message.processId));
    await listener.query(`LISTEN ${APPLIED_CHANNEL}`);
    const backends = new Map<number, string>();
    const watching = loop(async () => {
      const rows = await tables.query<{ pid: number; application_name: string }>(
        `SELECT pid, application_name FROM pg_stat_activity
          WHERE application_name IN ('sync-rebuild', 'sync-rebuild-replay')`,
      );
      for (const row of rows) backends.set(row.pid, row.application_name);
    }, 20);
    // An API key: a table outside the projection, which the rebuild must leave alone.
    await tables.query(
      `INSERT INTO api_keys (key_id, secret_hash, roles, label)
       VALUES ('00aa00aa00aa00aa', decode(repeat('ab', 32), 'hex'), ARRAY['read'], 'kept')`,
    );
    const reading = loop(async () => {
      const library = libraries[turn++ % libraries.length];
      const paths = [
        `/libraries/${library}/records?limit=50`,
        `/libraries/${library}/operations?limit=50`,
        `/libraries/${library}/relations?limit=50`,
        `/libraries/${library}/status`,
      ];
      for (const p of paths) {
        const res = await fetch(`${queryUrl}${p}`);
        if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
      await tables.query(
        `SELECT count(*) FROM records r JOIN operations o USING (library_id)
          WHERE r.library_id = $1 AND o.log_offset < 50`,
        [library],
      );
    }, 5);

    const rebuild = await runRebuild(['--max-lag', '200'], env);
    const readsDuringRebuild = reading.runs;
    await producing.stop();
    await reading.stop();
    await watching.stop();
    const fromSwitch = () => notifiers.filter((pid) => backends.get(pid) === 'sync-rebuild').length;
    // Notifications arrive asynchronously: wait for the switch's before closing the listener.
    await eventually(
      () => Promise.resolve(fromSwitch() >= topics.partitions ? true : undefined),
      10_000,
    ).catch(() => undefined); // the assertion below says what arrived
    await listener.end();
    expect({ code: rebuild.code, stderr: rebuild.stderr }).toEqual({
      code: 0,
      stderr: expect.stringContaining('switched in one transaction') as unknown,
    });
    expect(reading.failures).toEqual([]);
    expect(watching.failures).toEqual([]);
    const replayBackends = [...backends].filter(([, name]) => name === 'sync-rebuild-replay');
    const switchBackends = [...backends].filter(([, name]) => name === 'sync-rebuild');
    expect(replayBackends.length).toBeGreaterThan(0);
    expect(notifiers.filter((pid) => backends.get(pid) === 'sync-rebuild-replay')).toEqual([]);
    // One notification per partition from the switch transaction.
    expect(
      notifiers.filter((pid) => switchBackends.some(([switchPid]) => switchPid === pid)),
    ).toHaveLength(topics.partitions);
    expect(
      await tables.query(`SELECT key_id, label FROM api_keys WHERE key_id = '00aa00aa00aa00aa'`),
    ).toEqual([{ key_id: '00aa00aa00aa00aa', label: 'kept' }]);
    expect(producing.failures).toEqual([]);
    expect(readsDuringRebuild).toBeGreaterThan(20);
    expect(sent).toBeGreaterThan(100);

    // Progress: one line per update (stderr is not a terminal here), with rate and ETA.
    const progress = rebuild.stderr.split('\n').filter((line) => line.includes(' ops/s, ETA '));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[0]).toMatch(/^rebuild replaying: [\d,]+\/[\d,]+ ops \(\d+\.\d%\)/);
    const result = JSON.parse(rebuild.stdout) as {
      switched: boolean;
      shadowSchema: string;
      retiredSchema: string;
      replayed: string;
      lockedMs: number;
      corrected: { records: number; relations: number };
    };
    expect(result.switched).toBe(true);
    // The 40 records given a wrong field, at least, were filed for /changes followers.
    expect(result.corrected.records).toBeGreaterThanOrEqual(40);
    expect(Number(result.replayed)).toBeGreaterThanOrEqual(messages.length);
    expect(result.lockedMs).toBeLessThan(10_000);

    // The previous tables are kept, untouched (still wrong); the build schema is gone.
    const schemas = await tables.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_re%' ORDER BY 1`,
    );
    expect(schemas.map((s) => s.nspname)).toEqual([result.retiredSchema]);
    const bugs = (schema: string) =>
      tables.query(`SELECT count(*)::int AS n FROM ${schema}.records WHERE data ? 'bug'`);
    expect(await bugs(result.retiredSchema)).toEqual([{ n: 40 }]);
    expect(await bugs('public')).toEqual([{ n: 0 }]);
    // Same indexes and constraint names as the migrations created.
    expect(
      await tables.query(
        `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
      ),
    ).toEqual(indexesBefore);

    // After the switch the live projector goes on, in the new tables, exactly once.
    const afterLibrary = uuid();
    const afterRecords = Array.from({ length: 25 }, () => uuid());
    const afterClock = new TestClock(1_766_000_000_000);
    const afterOps = afterRecords.map((id, i) =>
      op.create(nodes.b, afterClock.tick(), id, 'Tag', { name: `after ${i}` }),
    );
    const [sentAfter] = await producer.send({
      topic: topics.operationsTopic,
      acks: -1,
      messages: opMessages(afterLibrary, afterOps).map((m) => ({ key: m.key, value: m.value })),
    });
    const lastOffset = BigInt(sentAfter.baseOffset ?? '0') + BigInt(afterOps.length - 1);
    // Read-your-writes through the query service: it follows the new tables' offsets.
    const status = await fetch(
      `${queryUrl}/libraries/${afterLibrary}/status?minOffset=${lastOffset}&waitMs=20000`,
    );
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ records: afterRecords.length });
    await waitForCatchUp(kafka, tables, topics.operationsTopic, 60_000);
    const [afterRow] = await tables.query<{ operations: string; logged: string }>(
      `SELECT l.operations, (SELECT count(*) FROM operations o WHERE o.library_id = l.library_id) AS logged
         FROM libraries l WHERE l.library_id = $1`,
      [afterLibrary],
    );
    expect(afterRow).toEqual({
      operations: String(afterOps.length),
      logged: String(afterOps.length),
    });

    // The whole result equals a fresh projection of the same topic into another database.
    await projectReference();
    const rebuilt = await dump(tables);
    const expected = await dump(referenceTables);
    expect(rebuilt).toEqual(expected);
    // And it is not the state before the rebuild, in the libraries that were wrong.
    const original = (rows: unknown[]) =>
      rows.filter((row) => libraries.includes((row as { library_id: string }).library_id));
    for (const table of ['records', 'relations', 'operations', 'rejected', 'libraries']) {
      expect(original(corrupted[table])).not.toEqual(original(expected[table]));
    }
    expect(expected.records.length).toBeGreaterThan(200);
    expect(expected.relations.length).toBeGreaterThan(20);
    expect(expected.pending.length + expected.rejected.length).toBeGreaterThan(50);
  }, 300_000);

  it('a dry run compares with the live tables, switches nothing and drops what it built', async () => {
    await tables.query(
      `UPDATE records SET deleted = NOT deleted
        WHERE record_id IN (SELECT record_id FROM records ORDER BY record_id LIMIT 3)`,
    );
    const before = await dump(tables);
    const oids = await tables.query(
      `SELECT c.relname, c.oid::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
    );
    const dry = await runRebuild(['--dry-run'], env);
    expect(dry.code).toBe(0);
    const result = JSON.parse(dry.stdout) as {
      switched: boolean;
      differences: { table: string; onlyLive: number; onlyRebuilt: number }[];
    };
    expect(result.switched).toBe(false);
    const records = result.differences.find((d) => d.table === 'records');
    expect(records).toMatchObject({ onlyLive: 3, onlyRebuilt: 3 });
    expect(result.differences).toHaveLength(7);
    for (const other of result.differences.filter((d) => d.table !== 'records')) {
      expect(other).toMatchObject({ onlyLive: 0, onlyRebuilt: 0 });
    }
    expect(dry.stderr).toContain('3 only live, 3 only rebuilt');
    expect(await dump(tables)).toEqual(before);
    expect(
      await tables.query(
        `SELECT c.relname, c.oid::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
      ),
    ).toEqual(oids);
    const building = await tables.query(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_rebuild_%'`,
    );
    expect(building).toEqual([]);
  }, 180_000);
  it('drops what it built and leaves the live tables alone when it cannot switch, or is stopped', async () => {
    const liveTables = () =>
      tables.query(
        `SELECT c.relname, c.oid::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
      );
    const building = () =>
      tables.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_rebuild_%'`);
    const before = await liveTables();
    // Someone holds a lock that the switch needs (and that keeps the projector waiting).
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE partition_offsets IN SHARE MODE');
      const failed = await runRebuild(['--lock-timeout', '300', '--attempts', '2'], env);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('switch attempt 1 of 2 did not go through');
      expect(failed.stderr).toContain('could not be locked within 300 ms');
      expect(failed.stderr).toContain('the live tables are untouched');
      expect(await building()).toEqual([]);

      const stopped = await runRebuild(
        ['--lock-timeout', '200', '--attempts', '1000'],
        env,
        (stderr) => stderr.includes('switch attempt 2 of 1000'),
      );
      expect(stopped.code).toBe(130);
      expect(stopped.stderr).toContain('interrupted before the switch');
      expect(await building()).toEqual([]);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await liveTables()).toEqual(before);
  }, 180_000);
  it('drops the schema a SIGKILLed rebuild left behind when the next one starts', async () => {
    const building = () =>
      tables.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_rebuild_%'`,
      );
    // Keep the switch waiting, so the copies exist when the rebuild is killed.
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    let killed: ChildResult;
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE partition_offsets IN SHARE MODE');
      killed = await runRebuild(
        ['--lock-timeout', '200', '--attempts', '1000'],
        env,
        (stderr) => stderr.includes('switch attempt 1 of 1000'),
        'SIGKILL',
      );
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(killed.code).toBeNull();
    const left = await building();
    expect(left).toHaveLength(1);
    // Its sessions (and the rebuild lock) end once Postgres notices the client is gone.
    await eventually(async () => {
      const [{ sessions }] = await tables.query<{ sessions: number }>(
        `SELECT count(*)::int AS sessions FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'sync-rebuild%'`,
      );
      return sessions === 0 ? true : undefined;
    });

    const next = await runRebuild(['--dry-run'], env);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(
      `dropped schema ${left[0].nspname}, left by a rebuild that did not finish`,
    );
    expect(await building()).toEqual([]);
  }, 180_000);

  it('--drop-old drops the previous tables once switched', async () => {
    const retiredBefore = await tables.query(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_retired_%' ORDER BY 1`,
    );
    const before = await dump(tables);
    const result = await runRebuild(['--drop-old'], env);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as {
      switched: boolean;
      retiredSchema: unknown;
      corrected: unknown;
    };
    expect(parsed).toMatchObject({ switched: true, retiredSchema: null });
    expect(result.stderr).toContain('dropped the previous tables');
    expect(
      await tables.query(
        `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync_re%' ORDER BY 1`,
      ),
    ).toEqual(retiredBefore);
    // Equal to the fresh projection again (the records the dry run's test flipped are right
    // again). The switch took an offset in the partitions of those records, to file their
    // corrections for /changes: the reference passes it too.
    expect(parsed).toMatchObject({ corrected: { records: 3, relations: expect.any(Number) } });
    await waitForCatchUp(kafka, tables, topics.operationsTopic, 60_000);
    await projectReference();
    const after = await dump(tables);
    expect(after).not.toEqual(before);
    expect(after).toEqual(await dump(referenceTables));
  }, 180_000);
});

/** Library ids, `perPartition` of them hashing to each of `partitions` partitions. */
function librariesCovering(partitions: number, perPartition: number): string[] {
  const chosen: string[] = [];
  const counts = new Array<number>(partitions).fill(0);
  while (chosen.length < partitions * perPartition) {
    const id = uuid();
    const partition = partitionForLibrary(id, partitions);
    if (counts[partition] < perPartition) {
      counts[partition]++;
      chosen.push(id);
    }
  }
  return chosen;
}
