import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Kafka, Partitioners, type Producer, logLevel } from 'kafkajs';
import { type OperationMessage, operationMessages } from '@sync/kafka';
import { migrateDatabase } from '@sync/persistence';
import { defaultSchema, formatHybrid, hybridFromMillis, validateBatch } from '@sync/protocol';
import { processCpuMs } from './proc-stats';
import { createBenchTopics } from './bench-topics';
import { benchArgs, cpuProfileArgs, cpuProfileOption } from './bench-args';
import { dieWithBench, dropDatabaseWithBench, deleteTopicsWithBench } from './child-processes';

/**
 * Ingest throughput: batches of ops POSTed over HTTP to the ingest service (its own process),
 * beside a raw kafkajs producer sending the same messages (same keys, same canonical JSON
 * values, same batches, same concurrency, acks=all) from this process, in the same run.
 *
 *   npm run build && node dist/bench/ingest.bench.js [--duration 10] [--rounds 3]
 *     [--concurrency 8] [--batches 1,100,1000] [--modes single-request,transactional]
 *     [--raw idempotent,transactional] [--producers 4] [--cpu-prof DIR] [--smoke]
 *
 * (`--help` lists the options with their defaults.)
 *
 * `--smoke`: one short round of batches 1 and 100, one mode each, to check the benchmark still
 * works. Any send that fails (an HTTP status other than 202, a network or Kafka error) ends the
 * run with a non-zero exit.
 *
 * The machine is shared, so every variant runs `rounds` times, interleaved (rotating the order
 * each round), and the table shows the median round. "cpu ms/1k ops" is the CPU time of the
 * process doing the Kafka side (the ingest process, or this one for raw) per 1000 ops, a
 * figure much less sensitive to other load than throughput.
 *
 * KAFKA_BROKERS names the broker (default 127.0.0.1:9092); the benchmark creates and deletes
 * its own topic bench.ingest.<random>, and its own database sync_bench_ingest_<random> on the
 * DATABASE_URL server (default postgres://postgres@127.0.0.1:5432/postgres), where the ingest
 * records the topic's partition count at start.
 */

const args = benchArgs({
  usage: 'node dist/bench/ingest.bench.js [options]',
  summary:
    'Ingest throughput: op batches POSTed to the ingest service (its own process) beside a raw\n' +
    'kafkajs producer sending the same messages from this process, in the same run.',
  options: {
    duration: { kind: 'number', description: 'seconds measured per run', default: 10, smoke: 1 },
    rounds: {
      kind: 'integer',
      description: 'runs of each variant, interleaved; the table shows the median',
      default: 3,
      smoke: 1,
    },
    concurrency: {
      kind: 'integer',
      description: 'batches in flight (loops, and raw producers)',
      default: 8,
      smoke: 2,
    },
    batches: {
      kind: 'integers',
      description: 'ops per batch, every variant for each',
      default: [1, 100, 1000],
      smoke: [1, 100],
    },
    modes: {
      kind: 'texts',
      choices: ['single-request', 'transactional'],
      description: "the ingest's INGEST_PUBLISH_MODE, one ingest process each",
      default: ['single-request', 'transactional'],
      smoke: ['single-request'],
    },
    raw: {
      kind: 'texts',
      choices: ['idempotent', 'transactional'],
      description: "modes of the raw kafkajs producer ('' for none)",
      default: ['idempotent', 'transactional'],
      smoke: ['idempotent'],
    },
    producers: { kind: 'integer', description: "the ingest's INGEST_PRODUCERS", default: 4 },
    'cpu-prof': cpuProfileOption('each ingest process writes a CPU profile into DIR when it stops'),
    smoke: {
      kind: 'flag',
      description: 'one short round, batches 1 and 100, one mode each: a check, not a measurement',
    },
  },
});
/** A few seconds' check that the benchmark still works; not a measurement. */
const SMOKE = args.smoke;
const DURATION_S = args.duration;
const CONCURRENCY = args.concurrency;
const BATCHES = args.batches;
const MODES = args.modes;
const PRODUCERS = String(args.producers);
const RAW = args.raw;
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const PARTITIONS = 6;
const LIBRARIES = 64;
const ROUNDS = args.rounds;
const WARMUP_MS = SMOKE ? 300 : 1500;
const PROFILE_ARGS = cpuProfileArgs(args['cpu-prof']);

interface Result {
  label: string;
  batch: number;
  ops: number;
  requests: number;
  seconds: number;
  latencies: number[];
  cpuMs: number;
}

/** Pre-built batches: per library, the HTTP body and the Kafka messages of the same ops. */
interface Batch {
  libraryId: string;
  body: string;
  messages: OperationMessage[];
}

function buildBatches(size: number, count: number): Batch[] {
  const libraries = Array.from({ length: LIBRARIES }, () => randomUUID());
  const schema = defaultSchema();
  return Array.from({ length: count }, (_, b) => {
    const libraryId = libraries[b % LIBRARIES];
    const node = randomUUID();
    const hybrid = formatHybrid(hybridFromMillis(Date.now()));
    const ops = Array.from({ length: size }, (_, i) =>
      i % 3 === 2
        ? {
            type: 'UPDATE',
            recordId: randomUUID(),
            field: 'name',
            value: `renamed ${i}`,
            node,
            timestamp: { hybrid },
          }
        : {
            type: 'CREATE',
            recordId: randomUUID(),
            model: i % 3 === 0 ? 'Tag' : 'Object',
            data:
              i % 3 === 0
                ? { name: `tag ${i}`, color: '#a0b0c0', date_created: '2025-01-01T00:00:00Z' }
                : { kind: 5, favorite: false, note: `object ${i}` },
            node,
            timestamp: { hybrid },
          },
    );
    const { ops: valid, errors } = validateBatch(ops, schema);
    if (errors.length > 0) throw new Error(`bench ops invalid: ${JSON.stringify(errors[0])}`);
    return { libraryId, body: JSON.stringify(ops), messages: operationMessages(libraryId, valid) };
  });
}

/** Runs `worker` on CONCURRENCY loops for DURATION_S after a warm-up; counts ops. */
async function drive(
  label: string,
  batches: Batch[],
  send: (batch: Batch, loop: number) => Promise<void>,
  cpuTime: () => number,
): Promise<Result> {
  const size = batches[0].messages.length;
  let next = 0;
  let measuring = false;
  let stop = false;
  let failure: unknown;
  let ops = 0;
  let requests = 0;
  const latencies: number[] = [];
  const loops = Array.from({ length: CONCURRENCY }, async (_, loop) => {
    while (!stop) {
      const batch = batches[next++ % batches.length];
      const started = performance.now();
      try {
        await send(batch, loop);
      } catch (error) {
        failure ??= error;
        stop = true;
        return;
      }
      if (measuring && !stop) {
        latencies.push(performance.now() - started);
        ops += size;
        requests++;
      }
    }
  });
  await sleep(WARMUP_MS);
  measuring = true;
  const started = performance.now();
  const cpuStart = cpuTime();
  await sleep(DURATION_S * 1000);
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuTime() - cpuStart;
  stop = true;
  await Promise.all(loops);
  if (failure !== undefined)
    throw new Error(`${label}, batch ${size}: a send failed`, { cause: failure });
  if (requests === 0)
    throw new Error(`${label}, batch ${size}: no send completed in ${DURATION_S} s`);
  return { label, batch: size, ops, requests, seconds, latencies, cpuMs };
}

async function httpRun(service: Service, label: string, batches: Batch[]): Promise<Result> {
  const { url, child } = service;
  const cpu = () => processCpuMs(child.pid) ?? 0;
  return drive(
    label,
    batches,
    async (batch) => {
      const response = await fetch(`${url}/libraries/${batch.libraryId}/operations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: batch.body,
      });
      const text = await response.text();
      if (response.status !== 202) {
        throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
      }
    },
    cpu,
  );
}

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function rawRun(
  kafka: Kafka,
  topic: string,
  mode: string,
  batches: Batch[],
): Promise<Result> {
  const producers: Producer[] = Array.from({ length: CONCURRENCY }, (_, i) =>
    kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: mode === 'idempotent',
      maxInFlightRequests: 1,
      transactionalId: mode === 'transactional' ? `bench-raw-${randomUUID()}-${i}` : undefined,
      retry: { initialRetryTime: 10, maxRetryTime: 1000, retries: 10 },
    }),
  );
  await Promise.all(producers.map((p) => p.connect()));
  try {
    return await drive(
      `raw kafkajs (${mode})`,
      batches,
      async (batch, loop) => {
        const producer = producers[loop];
        if (mode === 'transactional') {
          const transaction = await producer.transaction();
          await transaction.send({ topic, acks: -1, messages: batch.messages });
          await transaction.commit();
        } else {
          await producer.send({ topic, acks: -1, messages: batch.messages });
        }
      },
      ownCpuMs,
    );
  } finally {
    await Promise.all(producers.map((p) => p.disconnect()));
  }
}

interface Service {
  url: string;
  child: ChildProcess;
}

async function startIngest(topic: string, mode: string, databaseUrl: string): Promise<Service> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...PROFILE_ARGS, join(__dirname, '..', 'apps', 'ingest', 'src', 'main.js')],
    {
      env: {
        ...process.env,
        INGEST_PORT: String(port),
        INGEST_HOST: '127.0.0.1',
        KAFKA_BROKERS: BROKERS.join(','),
        SYNC_TOPIC: topic,
        // The start-up check records the topic's partition count there.
        DATABASE_URL: databaseUrl,
        INGEST_PUBLISH_MODE: mode,
        INGEST_PRODUCERS: PRODUCERS,
        INGEST_MAX_RECORD_BATCH_BYTES: String(15 * 1024 * 1024),
        INGEST_PUBLISH_TIMEOUT_MS: '10000',
        INGEST_TRANSACTION_TIMEOUT_MS: '30000',
        // Measures the publish path; key checks and rate limits are measured nowhere here.
        SYNC_AUTH_DISABLED: 'true',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  dieWithBench(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('ingest did not start');
    await sleep(200);
  }
}

/** The median round of each variant (by ops/s). */
function medians(results: Result[]): Result[] {
  const groups = new Map<string, Result[]>();
  for (const r of results) {
    const key = `${r.label}|${r.batch}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => a.ops / a.seconds - b.ops / b.seconds);
    return sorted[Math.floor(sorted.length / 2)];
  });
}

function report(all: Result[]): void {
  const results = medians(all);
  const rounds = (r: Result) =>
    all
      .filter((x) => x.label === r.label && x.batch === r.batch)
      .map((x) => Math.round(x.ops / x.seconds))
      .join(' / ');
  const rows = results.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b);
    const pct = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return {
      run: r.label,
      batch: r.batch,
      'ops/s': Math.round(r.ops / r.seconds),
      'batches/s': Math.round(r.requests / r.seconds),
      'p50 ms': pct(0.5).toFixed(1),
      'p99 ms': pct(0.99).toFixed(1),
      'cpu ms/1k ops': ((r.cpuMs * 1000) / Math.max(1, r.ops)).toFixed(0),
      rounds: rounds(r),
    };
  });
  console.table(rows);
  console.log('\nmarkdown:\n');
  console.log(
    '| run | batch | ops/s (median) | batches/s | p50 ms | p99 ms | cpu ms/1k ops | ops/s per round |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const row of rows) {
    console.log(
      `| ${row.run} | ${row.batch} | ${row['ops/s']} | ${row['batches/s']} | ${row['p50 ms']} | ${row['p99 ms']} | ${row['cpu ms/1k ops']} | ${row.rounds} |`,
    );
  }
}

async function main(): Promise<void> {
  console.log(
    `ingest bench: ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ` +
      `brokers ${BROKERS.join(',')}, ${DURATION_S}s per run, concurrency ${CONCURRENCY}, producers ${PRODUCERS}`,
  );
  const kafka = new Kafka({ clientId: 'ingest-bench', brokers: BROKERS, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench.ingest.${randomUUID().slice(0, 8)}`;
  const deleteTopic = deleteTopicsWithBench(admin, [topic]);
  await createBenchTopics(admin, [
    {
      topic,
      numPartitions: PARTITIONS,
      configEntries: [{ name: 'max.message.bytes', value: String(16 * 1024 * 1024) }],
    },
  ]);
  const database = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  database.pathname = `/sync_bench_ingest_${randomUUID().slice(0, 8)}`;
  const dropBenchDatabase = dropDatabaseWithBench(database.toString());
  await migrateDatabase(database.toString());
  const results: Result[] = [];
  const services = new Map<string, Service>();
  try {
    for (const mode of MODES) {
      services.set(mode, await startIngest(topic, mode, database.toString()));
    }
    for (const size of BATCHES) {
      const batches = buildBatches(size, Math.max(64, Math.min(2000, Math.ceil(20_000 / size))));
      const variants: (() => Promise<Result>)[] = [
        ...RAW.map((mode) => () => rawRun(kafka, topic, mode, batches)),
        ...MODES.map(
          (mode) => () => httpRun(services.get(mode)!, `ingest HTTP (${mode})`, batches),
        ),
      ];
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < variants.length; i++) {
          const result = await variants[(i + round) % variants.length]();
          results.push(result);
          console.error(
            `round ${round + 1}: ${result.label} batch ${size}: ${Math.round(result.ops / result.seconds)} ops/s`,
          );
        }
      }
    }
  } finally {
    for (const { child } of services.values()) {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
    await deleteTopic().catch(() => undefined);
    await admin.disconnect();
    await dropBenchDatabase();
  }
  report(results);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

main().catch((error: unknown) => {
  console.error('ingest bench FAILED:', error);
  process.exit(1);
});
