import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { Client } from 'pg';
import { createPgPool, migrateDatabase } from '@sync/persistence';
import { defaultSchema, formatHybrid, hybridFromMillis } from '@sync/protocol';
import { decodeMessage } from '../apps/projector/src/message-decoder';
import { type PartitionBatch, ProjectionService } from '../apps/projector/src/projection.service';
import { benchArgs } from './bench-args';
import { dropDatabaseWithBench } from './child-processes';
import { processCpuMs } from './proc-stats';

/**
 * What one small partition batch costs the projector and Postgres, without Kafka: batches of
 * `--ops` ops (Object CREATEs, every fourth op an UPDATE of an earlier record; eight libraries in
 * turn, one partition) applied one after another through ProjectionService on one connection,
 * as the live projector does at low rates (the capacity benchmark sees about six ops per batch
 * at 1,000 ops/s). Per round, after 200 warm-up batches: this process's CPU (the projector's
 * work, `process.cpuUsage`) and the Postgres backend's (`/proc/<pid>/stat`) per batch and per op.
 *
 *   npm run build && node dist/bench/projector-batch-cost.bench.js [--ops 1,6,50]
 *     [--batches 2000] [--rounds 3] [--smoke]   (`--help` lists them with their defaults)
 *
 * DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/postgres); the benchmark
 * creates and drops one database per round. Any failure exits non-zero.
 */

const args = benchArgs({
  usage: 'node dist/bench/projector-batch-cost.bench.js [options]',
  summary:
    'What one small partition batch costs the projector and Postgres, without Kafka: batches\n' +
    'applied one after another through ProjectionService on one connection.',
  options: {
    ops: {
      kind: 'integers',
      description: 'ops per batch, a row each',
      default: [1, 6, 50],
      smoke: [6],
    },
    batches: {
      kind: 'integer',
      description: 'batches measured per round',
      default: 2000,
      smoke: 50,
    },
    rounds: { kind: 'integer', description: 'rounds per batch size', default: 3, smoke: 1 },
    smoke: {
      kind: 'flag',
      description: 'one short round of batches of 6: a check, not a measurement',
    },
  },
});
const SMOKE = args.smoke;
const OPS = args.ops;
const BATCHES = args.batches;
const ROUNDS = args.rounds;
const WARMUP_BATCHES = SMOKE ? 10 : 200;
const LIBRARIES = 8;
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const HOOKS = {
  heartbeat: () => Promise.resolve(),
  isRunning: () => true,
  deadLetter: () => Promise.resolve(),
};

/** Consecutive batches of `opsPerBatch` ops, the libraries taking turns. */
function workload(opsPerBatch: number): () => PartitionBatch {
  const libraries = Array.from({ length: LIBRARIES }, () => ({
    id: randomUUID(),
    node: randomUUID(),
    records: [] as string[],
  }));
  let offset = 0n;
  let counter = 0;
  const started = hybridFromMillis(Date.now());
  let turn = 0;
  return () => {
    const library = libraries[turn++ % LIBRARIES];
    const messages = [];
    for (let i = 0; i < opsPerBatch; i++) {
      const timestamp = { hybrid: formatHybrid(started + BigInt(counter++)) };
      const known = library.records;
      let op: object;
      if (known.length > 0 && i % 4 === 3) {
        const recordId = known[Math.floor(Math.random() * known.length)];
        op = {
          type: 'UPDATE',
          recordId,
          field: 'note',
          value: `n${i}`,
          node: library.node,
          timestamp,
        };
      } else {
        const recordId = randomUUID();
        known.push(recordId);
        const data = { kind: i, favorite: i % 2 === 0 };
        op = { type: 'CREATE', recordId, model: 'Object', data, node: library.node, timestamp };
      }
      messages.push(
        decodeMessage({
          offset: String(offset++),
          key: Buffer.from(library.id),
          value: Buffer.from(JSON.stringify(op)),
        }),
      );
    }
    const kinds = messages.filter((message) => message.kind !== 'op');
    if (kinds.length > 0) throw new Error('the workload built a message that is not an op');
    return { topic: 'bench', partition: 0, messages, lastOffset: offset - 1n };
  };
}

interface Round {
  ops: number;
  nodeUsPerBatch: number;
  postgresUsPerBatch: number | undefined;
  batchesPerSecond: number;
}

async function runRound(opsPerBatch: number): Promise<Round> {
  const url = new URL(SERVER_URL);
  url.pathname = `/bench_batch_cost_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: SERVER_URL });
  await admin.connect();
  const dropBenchDatabase = dropDatabaseWithBench(url.toString());
  await admin.query(`CREATE DATABASE ${url.pathname.slice(1)}`);
  await admin.end();
  // The projector's pool settings (projector.module.ts), one connection so one backend to read.
  const pool = createPgPool({
    url: url.toString(),
    poolSize: 1,
    applicationName: 'bench-batch-cost',
    customPlans: true,
  });
  try {
    await migrateDatabase(url.toString());
    const backend = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      .pid;
    const service = new ProjectionService(pool, defaultSchema(), 20_000);
    const next = workload(opsPerBatch);
    for (let i = 0; i < WARMUP_BATCHES; i++) await service.apply(next(), HOOKS);
    const batches = Array.from({ length: BATCHES }, next);
    const cpuBefore = process.cpuUsage();
    const pgBefore = processCpuMs(backend);
    const started = performance.now();
    for (const batch of batches) {
      const outcome = await service.apply(batch, HOOKS);
      if (outcome.accepted !== batch.messages.length) {
        throw new Error(`a batch accepted ${outcome.accepted} of ${batch.messages.length} ops`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgAfter = processCpuMs(backend);
    return {
      ops: opsPerBatch,
      nodeUsPerBatch: (cpu.user + cpu.system) / BATCHES,
      postgresUsPerBatch:
        pgBefore === undefined || pgAfter === undefined
          ? undefined
          : ((pgAfter - pgBefore) * 1000) / BATCHES,
      batchesPerSecond: BATCHES / seconds,
    };
  } finally {
    await pool.end();
    await dropBenchDatabase();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fixed = (value: number | undefined): string =>
  value === undefined ? 'n/a' : value.toFixed(0);

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(`${BATCHES} batches per round after ${WARMUP_BATCHES} warm-up, ${ROUNDS} rounds`);
  console.log(
    '\n| ops per batch | node µs per batch (rounds) | postgres µs per batch (rounds) | node µs per op | postgres µs per op | batches/s |',
  );
  console.log('|---:|---|---|---:|---:|---:|');
  for (const ops of OPS) {
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await runRound(ops));
    const node = rounds.map((r) => r.nodeUsPerBatch);
    const pg = rounds.map((r) => r.postgresUsPerBatch);
    const pgKnown = pg.every((v) => v !== undefined) ? median(pg) : undefined;
    console.log(
      `| ${ops} | ${node.map(fixed).join(' / ')} | ${pg.map(fixed).join(' / ')} | ` +
        `${fixed(median(node) / ops)} | ${fixed(pgKnown === undefined ? undefined : pgKnown / ops)} | ` +
        `${fixed(median(rounds.map((r) => r.batchesPerSecond)))} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
