import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { Client, type Pool } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createPgPool, migrateDatabase } from '@sync/persistence';
import { defaultSchema } from '@sync/protocol';
import { NaiveProjector } from './projector-naive';
import { libraryWorkload } from './projector-workload';
import { createBenchTopics } from './bench-topics';
import { benchArgs } from './bench-args';
import { cleanUpWithBench, dieWithBench, dropDatabaseWithBench } from './child-processes';

/**
 * Projector throughput on a mixed workload (creates, updates, deletes, relation ops; several
 * libraries over several partitions), beside, in the same run:
 *  - NAIVE: bench/projector-naive.ts, a baseline only: one transaction per op, same SQL and merge;
 *  - COPY: the rows the projector produced (all seven tables), written straight into an empty,
 *    migrated database with COPY FROM STDIN in one transaction. Two timings: "rows" formats the
 *    rows (read back as JS values beforehand) into COPY text and streams them, which is what a
 *    raw writer holding the rows does; "bytes" streams COPY text exported beforehand (a floor).
 *
 *   npm run build && node dist/bench/projector.bench.js [--libraries 12] [--ops 6000]
 *     [--records 1500] [--naive-ops 400] [--instances 1,2] [--rounds 3] [--timeout 600]
 *     [--smoke]   (`--help` lists the options with their defaults)
 *
 * `--smoke`: a tiny workload, one round, one and two instances, to check the benchmark still
 * works. A run whose projector has not applied the whole topic within `--timeout` seconds fails
 * (non-zero exit), as does one whose projectors have not all joined their group within 60 s.
 * Each projector variant consumes the whole topic with a new consumer group into a fresh
 * database. Each projector instance is its own process (`main.js`); `--instances 2` runs two in
 * one group (how the projector scales).
 * Timed from the moment the group is stable with all its members and the database opens (see
 * runProjectors) until every partition's stored position reaches the high watermark. The naive
 * projector is timed from the moment its group is stable (ops applied before are not counted) and
 * consumes its own topic holding the first `naive-ops` ops of each library (same mix).
 * CPU columns: the projector processes, or this process for the naive one ("node"), and every
 * postgres process on the machine ("postgres", from /proc), per 1000 ops. Every variant runs
 * `rounds` times; the table shows medians. KAFKA_BROKERS and DATABASE_URL as for the services;
 * the benchmark creates and deletes its own topics and databases.
 */

const args = benchArgs({
  usage: 'node dist/bench/projector.bench.js [options]',
  summary:
    'Projector throughput on a mixed workload, beside a naive one-transaction-per-op projector\n' +
    'and a COPY of the rows it wrote, in the same run.',
  options: {
    libraries: { kind: 'integer', description: 'libraries in the workload', default: 12, smoke: 2 },
    ops: { kind: 'integer', description: 'ops per library', default: 6000, smoke: 300 },
    records: {
      kind: 'integer',
      description: 'records per library the ops touch',
      default: 1500,
      smoke: 100,
    },
    'naive-ops': {
      kind: 'integer',
      description: "ops per library in the naive projector's topic",
      default: 400,
      smoke: 60,
    },
    instances: {
      kind: 'integers',
      description: 'projector processes in one group, a variant each',
      default: [1, 2],
      smoke: [1, 2],
    },
    rounds: {
      kind: 'integer',
      description: 'runs of every variant; the table shows medians',
      default: 3,
      smoke: 1,
    },
    timeout: {
      kind: 'number',
      description: 'seconds a run may take to apply the whole topic before it fails',
      default: 600,
    },
    smoke: {
      kind: 'flag',
      description: 'a tiny workload, one round, one instance: a check, not a measurement',
    },
  },
});
const LIBRARIES = args.libraries;
const OPS_PER_LIBRARY = args.ops;
const RECORDS_PER_LIBRARY = args.records;
const NAIVE_OPS_PER_LIBRARY = args['naive-ops'];
const INSTANCES = args.instances;
const ROUNDS = args.rounds;
/** A projector that stops applying (crashed, stuck) fails the run instead of hanging it. */
/** Projectors that have not all joined their group by then failed to start. */
const GROUP_STABLE_TIMEOUT_MS = 60_000;
const APPLY_TIMEOUT_MS = args.timeout * 1000;
const PARTITIONS = 6;
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sync';
const TABLES = [
  'libraries',
  'records',
  'relations',
  'operations',
  'pending_operations',
  'rejected_operations',
  'partition_offsets',
];

const kafka = new Kafka({
  clientId: 'bench-projector',
  brokers: BROKERS,
  logLevel: logLevel.ERROR,
});
const schema = defaultSchema();

function databaseUrl(name: string): string {
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh migrated database; its drop goes into `drops`. */
async function freshDatabase(label: string, drops: (() => Promise<void>)[]): Promise<string> {
  const name = `bench_projector_${label}_${randomUUID().slice(0, 8)}`;
  const url = databaseUrl(name);
  drops.push(dropDatabaseWithBench(url));
  await migrateDatabase(url);
  return url;
}

/** A topic and its DLQ; their deletion goes into `deletions`. */
async function createTopic(label: string, deletions: (() => Promise<void>)[]): Promise<string> {
  const topic = `bench.projector.${label}.${randomUUID().slice(0, 8)}`;
  deletions.push(cleanUpWithBench(`topics ${topic}, ${topic}.dlq`, () => deleteTopics([topic])));
  const admin = kafka.admin();
  await admin.connect();
  await createBenchTopics(
    admin,
    [topic, `${topic}.dlq`].map((name) => ({
      topic: name,
      numPartitions: PARTITIONS,
      replicationFactor: 1,
    })),
  );
  await admin.disconnect();
  return topic;
}

async function deleteTopics(topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: topics.flatMap((t) => [t, `${t}.dlq`]) })
    .catch(() => undefined);
  await admin.disconnect();
}

async function produce(
  topic: string,
  libraries: { id: string; values: string[] }[],
  perLibrary: number,
): Promise<number> {
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  // Interleave libraries, as many clients writing at once would.
  const messages: { key: string; value: string }[] = [];
  for (let i = 0; i < perLibrary; i++) {
    for (const library of libraries) messages.push({ key: library.id, value: library.values[i] });
  }
  for (let i = 0; i < messages.length; i += 5000) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
  }
  await producer.disconnect();
  return messages.length;
}

async function highWatermarks(topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

async function positions(pool: Pool, topic: string): Promise<Map<number, bigint>> {
  const { rows } = await pool.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM partition_offsets WHERE topic = $1',
    [topic],
  );
  return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
}

const sum = (values: Iterable<bigint>) => [...values].reduce((a, b) => a + b, 0n);

async function waitApplied(pool: Pool, topic: string, high: Map<number, bigint>): Promise<void> {
  const deadline = Date.now() + APPLY_TIMEOUT_MS;
  for (;;) {
    const at = await positions(pool, topic);
    if ([...high].every(([p, end]) => (at.get(p) ?? 0n) >= end)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${topic}: not applied within ${APPLY_TIMEOUT_MS / 1000} s (at ${JSON.stringify(Object.fromEntries([...at].map(([p, o]) => [p, String(o)])))} of ${JSON.stringify(Object.fromEntries([...high].map(([p, o]) => [p, String(o)])))})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitGroupStable(groupId: string, members: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + GROUP_STABLE_TIMEOUT_MS;
  try {
    for (;;) {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      if (group?.state === 'Stable' && group.members.length === members) return;
      if (Date.now() > deadline) {
        throw new Error(
          `group ${groupId} not stable with ${members} member(s) after ` +
            `${GROUP_STABLE_TIMEOUT_MS / 1000} s (state ${group?.state ?? 'none'}, ` +
            `${group?.members.length ?? 0} member(s)): did a projector fail to start?`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await admin.disconnect();
  }
}

interface Run {
  ops: number;
  seconds: number;
  /** CPU of the projector process(es) during the run, ms. */
  cpuMs: number;
  /** CPU of all postgres server processes during the run, ms (Linux /proc; 0 elsewhere). */
  pgCpuMs: number;
}

const MS_PER_CLOCK_TICK = 10; // USER_HZ is 100 on Linux

/** CPU time (ms) by pid of the processes `match` accepts (by command name), from /proc. */
function cpuByPid(match: (pid: string, command: string) => boolean): Map<string, number> {
  const byPid = new Map<string, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return byPid;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!match(pid, stat.slice(stat.indexOf('(') + 1, close))) continue;
      const fields = stat.slice(close + 2).split(' ');
      byPid.set(pid, (Number(fields[11]) + Number(fields[12])) * MS_PER_CLOCK_TICK);
    } catch {
      // the process ended meanwhile
    }
  }
  return byPid;
}

/** Starts measuring CPU of the given pids and of postgres; the result covers processes alive at the end. */
function cpuMeter(pids: string[]): () => { cpuMs: number; pgCpuMs: number } {
  const mine = (pid: string) => pids.includes(pid);
  const postgres = (_pid: string, command: string) => command.startsWith('postgres');
  const since = (before: Map<string, number>, now: Map<string, number>) => {
    let total = 0;
    for (const [pid, ms] of now) total += ms - (before.get(pid) ?? 0);
    return total;
  };
  const cpu0 = cpuByPid(mine);
  const pg0 = cpuByPid(postgres);
  return () => ({ cpuMs: since(cpu0, cpuByPid(mine)), pgCpuMs: since(pg0, cpuByPid(postgres)) });
}

/**
 * Holds every projector of `url` before its first write: a transaction of this benchmark's keeps
 * partition_offsets locked (a batch starts by locking its partition's row there, and positioning
 * reads it), while the projectors connect, pass their start-up checks and join their group.
 * The returned function lets them go.
 */
async function holdProjection(url: string): Promise<() => Promise<void>> {
  const holder = new Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE partition_offsets IN ACCESS EXCLUSIVE MODE');
  } catch (error) {
    await holder.end();
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await holder.query('COMMIT');
    await holder.end();
  };
}

/**
 * Runs `instances` projectors in one new group over `topic` into `url`. They are held before
 * their first write (holdProjection) until the group is stable with every member, so all
 * instances start on the whole backlog at once; the clock starts when they are let go.
 */
async function runProjectors(topic: string, url: string, instances: number): Promise<Run> {
  const groupId = `bench-${randomUUID().slice(0, 8)}`;
  const env = {
    ...process.env,
    KAFKA_BROKERS: BROKERS.join(','),
    SYNC_TOPIC: topic,
    SYNC_DLQ_TOPIC: `${topic}.dlq`,
    PROJECTOR_GROUP: groupId,
    DATABASE_URL: url,
    PROJECTOR_PORT: '0',
    PROJECTOR_RETRY_INITIAL_MS: '20',
    PROJECTOR_RETRY_MAX_MS: '50',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  const high = await highWatermarks(topic);
  const total = sum(high.values());
  const release = await holdProjection(url);
  // Every instance is its own process, as in production: none shares this process's heap
  // (the workload it built) or its CPU (the polling below).
  // From dist: the compiled main. From sources (ts): through the test suite's swc hook.
  const fromSource = __filename.endsWith('.ts');
  const main = join(
    __dirname,
    '..',
    'apps',
    'projector',
    'src',
    fromSource ? 'main.ts' : 'main.js',
  );
  const hook = fromSource
    ? ['-r', join(__dirname, '..', 'test', 'projector.child-register.js')]
    : [];
  const children: ChildProcess[] = Array.from({ length: instances }, () =>
    dieWithBench(spawn(process.execPath, [...hook, main], { env, stdio: 'ignore' })),
  );
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  const pids = children.map((child) => String(child.pid));
  const pool = createPgPool({ url, poolSize: 2, applicationName: 'bench' });
  try {
    await waitGroupStable(groupId, instances);
    const meter = cpuMeter(pids);
    const started = process.hrtime.bigint();
    await release();
    await waitApplied(pool, topic, high);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { ops: Number(total), seconds, ...meter() };
  } finally {
    await release();
    await stop();
    await pool.end();
  }
}

async function runNaive(topic: string, url: string): Promise<Run> {
  const high = await highWatermarks(topic);
  const total = sum(high.values());
  const pool = createPgPool({ url, poolSize: 6, applicationName: 'bench-naive' });
  const groupId = `bench-naive-${randomUUID().slice(0, 8)}`;
  const naive = new NaiveProjector(kafka, groupId, topic, pool, schema, 4);
  await naive.start();
  try {
    await waitGroupStable(groupId, 1);
    const started = process.hrtime.bigint();
    const meter = cpuMeter([String(process.pid)]);
    const before = sum((await positions(pool, topic)).values());
    await waitApplied(pool, topic, high);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { ops: Number(total - before), seconds, ...meter() };
  } finally {
    await naive.stop();
    await pool.end();
  }
}

/** COPY TO STDOUT of every table, kept in memory (not timed). */
async function exportBytes(url: string): Promise<Map<string, Buffer>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const out = new Map<string, Buffer>();
  for (const table of TABLES) {
    const chunks: Buffer[] = [];
    await pipeline(
      client.query(copyTo(`COPY ${table} TO STDOUT`)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
    out.set(table, Buffer.concat(chunks));
  }
  await client.end();
  return out;
}

interface TableRows {
  columns: string[];
  rows: unknown[][];
}

/** Every row as JS values (as pg returns them: jsonb parsed, bigint/numeric as strings). */
async function exportRows(url: string): Promise<Map<string, TableRows>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const out = new Map<string, TableRows>();
  for (const table of TABLES) {
    const result = await client.query({ text: `SELECT * FROM ${table}`, rowMode: 'array' });
    out.set(table, { columns: result.fields.map((f) => f.name), rows: result.rows as unknown[][] });
  }
  await client.end();
  return out;
}

/** COPY text format of one value. */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'boolean') text = value ? 't' : 'f';
  else if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'number') text = String(value);
  else text = JSON.stringify(value);
  return text.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

async function copyStream(client: Client, table: string, columns: string[], data: Buffer) {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(data);
  });
}

/** Timed: the rows into an empty migrated database, one COPY FROM STDIN per table, one transaction. */
async function copyRun(url: string, ops: number, write: (client: Client) => Promise<void>) {
  const client = new Client({ connectionString: url });
  await client.connect();
  const meter = cpuMeter([String(process.pid)]);
  const started = process.hrtime.bigint();
  await client.query('BEGIN');
  await write(client);
  await client.query('COMMIT');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const run: Run = { ops, seconds, ...meter() };
  await client.end();
  return run;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
  );
  const libraries = Array.from({ length: LIBRARIES }, (_, i) => ({
    id: randomUUID(),
    values: libraryWorkload(schema, i + 1, OPS_PER_LIBRARY, RECORDS_PER_LIBRARY).map((op) =>
      JSON.stringify(op),
    ),
  }));
  const deletions: (() => Promise<void>)[] = [];
  const topic = await createTopic('main', deletions);
  const naiveTopic = await createTopic('naive', deletions);
  try {
    const total = await produce(topic, libraries, OPS_PER_LIBRARY);
    const naiveTotal = await produce(naiveTopic, libraries, NAIVE_OPS_PER_LIBRARY);
    console.log(
      `workload: ${LIBRARIES} libraries x ${OPS_PER_LIBRARY} ops over ${RECORDS_PER_LIBRARY} records each (${total} messages, ${PARTITIONS} partitions); naive: ${naiveTotal} messages; ${ROUNDS} rounds`,
    );
    const runs = new Map<string, Run[]>();
    const add = (label: string, run: Run) => {
      if (!(run.ops > 0 && run.seconds > 0)) {
        // The naive group can drain a small topic before it is seen stable (more --naive-ops).
        throw new Error(
          `${label}: measured ${run.ops} ops in ${run.seconds} s, nothing to compare`,
        );
      }
      runs.set(label, [...(runs.get(label) ?? []), run]);
      console.log(
        `  ${label}: ${Math.round(run.ops / run.seconds)} ops/s (${run.ops} ops in ${run.seconds.toFixed(2)} s)`,
      );
    };
    let rowCounts: Record<string, number> = {};
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}`);
      // Each round: fresh databases and consumer groups, the same messages.
      const drops: (() => Promise<void>)[] = [];
      try {
        let reference: string | undefined;
        for (const instances of INSTANCES) {
          const url = await freshDatabase(`p${instances}`, drops);
          add(`projector x${instances}`, await runProjectors(topic, url, instances));
          reference ??= url;
        }
        const naiveUrl = await freshDatabase('naive', drops);
        add('naive', await runNaive(naiveTopic, naiveUrl));

        const rows = await exportRows(reference!);
        rowCounts = Object.fromEntries([...rows].map(([t, { rows: r }]) => [t, r.length]));
        const bytes = await exportBytes(reference!);
        const rowsUrl = await freshDatabase('copyrows', drops);
        add(
          'COPY rows',
          await copyRun(rowsUrl, total, async (client) => {
            for (const [table, { columns, rows: values }] of rows) {
              const text = values.map((row) => row.map(copyField).join('\t')).join('\n');
              await copyStream(client, table, columns, Buffer.from(text ? `${text}\n` : ''));
            }
          }),
        );
        const bytesUrl = await freshDatabase('copybytes', drops);
        add(
          'COPY bytes',
          await copyRun(bytesUrl, total, async (client) => {
            for (const [table, data] of bytes) {
              await copyStream(client, table, rows.get(table)!.columns, data);
            }
          }),
        );
      } finally {
        for (const drop of drops) await drop().catch(() => undefined);
      }
    }

    console.log(`rows written per projector run: ${JSON.stringify(rowCounts)}`);
    const rate = (label: string) => median((runs.get(label) ?? []).map((r) => r.ops / r.seconds));
    const perK = (label: string, pick: (r: Run) => number) =>
      median((runs.get(label) ?? []).map((r) => (pick(r) / r.ops) * 1000)).toFixed(0);
    console.table(
      [...runs.keys()].map((label) => ({
        variant: label,
        'ops/s (median)': Math.round(rate(label)),
        'node cpu ms/1k ops': perK(label, (r) => r.cpuMs),
        'postgres cpu ms/1k ops': perK(label, (r) => r.pgCpuMs),
      })),
    );
    for (const instances of INSTANCES) {
      const label = `projector x${instances}`;
      console.log(
        `${label}: ${(rate(label) / rate('naive')).toFixed(1)}x naive; ${(rate(label) / rate('COPY rows')).toFixed(2)} of COPY rows; ${(rate(label) / rate('COPY bytes')).toFixed(2)} of COPY bytes`,
      );
    }
  } finally {
    for (const deletion of deletions) await deletion();
  }
}

main().catch((error: unknown) => {
  console.error('projector bench FAILED:', error);
  process.exit(1);
});
