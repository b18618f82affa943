import { createHash, randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import {
  ProjectionRepository,
  appendMergeResult,
  emptyChanges,
  migrateDatabase,
  redactUrl,
} from '@sync/persistence';
import {
  type LibrarySlice,
  type LoggedOperation,
  type Operation,
  defaultSchema,
  emptySlice,
  formatHybrid,
  hybridFromMillis,
  mergeBatch,
} from '@sync/protocol';
import { freePort, percentile, startService } from './query-bench-support';
import { benchArgs } from './bench-args';
import { dropDatabaseWithBench } from './child-processes';

/**
 * The log as data (CONTRACT.md section 8), measured on one library of about `--ops` ops (default
 * 200,000): 100,000 record CREATEs (60% Objects, 40% Tags), 90,000 TagOnObject CREATEs and
 * 10,000 UPDATEs, interleaved: relations follow their two records, updates are spread
 * evenly, so about half the state exists at the middle offset. The rows are
 * written by the projector's own code (merge engine + ProjectionRepository.write, COPY for new
 * rows); the query service runs in its own process.
 *
 *   npm run build && node dist/bench/log-as-data.bench.js [--ops 200000] [--rounds 3] [--history 2000]
 *     [--smoke]
 *
 * (`--help` lists the options with their defaults.) `--smoke` is 12,000 ops (6,000 records, so
 * the live digest still crosses its 5,000-row batches and `asOf` several 1,000-key batches), one
 * round, 20 history reads: a check that every read and its baseline still run (CI,
 * test/bench-smoke.e2e-spec.ts), not a measurement.
 *
 * Measured, each beside a raw baseline in the same run:
 * - GET digest (live): time, rows/s, the service's RSS growth (VmRSS sampled every 10 ms);
 *   baseline: the same rows streamed by plain SQL (keyset, 1000 per round trip) and hashed here.
 * - GET digest?asOf=<middle>: same figures.
 * - GET records?asOf=<middle> and relations?asOf=<middle>, limit 100: latency p50/p99.
 * - GET records/{id}/history: p50/p99 over `--history` sequential reads of random records;
 *   baseline: the same ops read by plain SQL over the record's key index.
 * Every answer must be 200, and the digest as of the last offset must equal the live one, or the
 * run fails (exit 1).
 *
 * DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres); the
 * benchmark creates and drops its own database.
 */
const args = benchArgs({
  usage: 'node dist/bench/log-as-data.bench.js [options]',
  summary:
    'The log as data (CONTRACT.md section 8): digest, digest?asOf, asOf pages and record history\n' +
    'on one library, each beside a raw SQL baseline in the same run.',
  options: {
    ops: {
      kind: 'integer',
      description: 'ops in the library (about)',
      default: 200_000,
      smoke: 12_000,
    },
    rounds: { kind: 'integer', description: 'rounds of the digest timings', default: 3, smoke: 1 },
    history: {
      kind: 'integer',
      description: 'sequential reads of random records histories',
      default: 2000,
      smoke: 20,
    },
    smoke: {
      kind: 'flag',
      description: '12,000 ops, one round, 20 history reads: a check, not a measurement',
    },
  },
});
const OPS = args.ops;
const ROUNDS = args.rounds;
const HISTORY_READS = args.history;
const TOPIC = 'bench.log-as-data.operations';

interface Seeded {
  libraryId: string;
  ops: number;
  lastOffset: bigint;
  recordIds: string[];
  records: number;
  relations: number;
}

function workload(): Operation[] {
  const records = Math.round(OPS * 0.5);
  const relations = Math.round(OPS * 0.45);
  const updates = OPS - records - relations;
  const objects = Math.round(records * 0.6);
  const tags = records - objects;
  const node = randomUUID();
  let hybrid = hybridFromMillis(1_764_000_000_000);
  const stamp = () => formatHybrid((hybrid += 16n));
  const objectIds = Array.from({ length: objects }, () => randomUUID());
  const tagIds = Array.from({ length: tags }, () => randomUUID());
  const ops: Operation[] = [];
  const create = (i: number): Operation =>
    i < objects
      ? {
          type: 'CREATE',
          recordId: objectIds[i],
          model: 'Object',
          data: { note: `n${i}`, kind: i },
          node,
          timestamp: { hybrid: stamp() },
        }
      : {
          type: 'CREATE',
          recordId: tagIds[i - objects],
          model: 'Tag',
          data: { name: `t${i}` },
          node,
          timestamp: { hybrid: stamp() },
        };
  // Records created in an interleaved order (object, tag, ...), each relation right after both
  // of its ends exist, updates spread over the whole log.
  const order: number[] = [];
  for (let i = 0, o = 0, t = 0; i < records; i++) {
    if ((i % 5 < 3 && o < objects) || t >= tags) order.push(o++);
    else order.push(objects + t++);
  }
  const created = new Set<string>();
  // Two rings of distinct pairs, each in creation order of its ends, so relations follow their
  // records through the whole log instead of piling up at the end.
  const ring = (count: number, shift: number): [string, string][] =>
    Array.from({ length: count }, (_, i) => [
      objectIds[i],
      tagIds[(Math.floor((i * tags) / objects) + shift) % tags],
    ]);
  const first = Math.min(objects, relations);
  const rings = [ring(first, 0), ring(relations - first, 1)];
  const heads = [0, 0];
  const relate = ([item, group]: [string, string]): Operation => ({
    type: 'CREATE',
    relation: 'TagOnObject',
    relationItem: item,
    relationGroup: group,
    data: { date_created: '2025-01-01T00:00:00.000Z' },
    node,
    timestamp: { hybrid: stamp() },
  });
  const updateEvery = Math.max(1, Math.floor(records / Math.max(1, updates)));
  let updatesLeft = updates;
  order.forEach((index, n) => {
    const op = create(index);
    ops.push(op);
    created.add((op as { recordId: string }).recordId);
    rings.forEach((pairs, r) => {
      while (heads[r] < pairs.length && pairs[heads[r]].every((id) => created.has(id))) {
        ops.push(relate(pairs[heads[r]++]));
      }
    });
    if (updatesLeft > 0 && n % updateEvery === updateEvery - 1) {
      updatesLeft--;
      const target = objectIds[Math.floor((n * objects) / records)];
      ops.push({
        type: 'UPDATE',
        recordId: target,
        field: 'favorite',
        value: n % 2 === 0,
        node,
        timestamp: { hybrid: stamp() },
      });
    }
  });
  rings.forEach((pairs, r) => {
    while (heads[r] < pairs.length) ops.push(relate(pairs[heads[r]++]));
  });
  return ops;
}

async function seed(url: string): Promise<Seeded> {
  const schema = defaultSchema();
  const libraryId = randomUUID();
  const ops = workload();
  const client = new Client({ connectionString: url });
  await client.connect();
  const repository = new ProjectionRepository();
  let slice: LibrarySlice = emptySlice();
  const started = Date.now();
  try {
    for (let from = 0; from < ops.length; from += 20_000) {
      const batch: LoggedOperation[] = ops
        .slice(from, from + 20_000)
        .map((op, i) => ({ offset: BigInt(from + i), op }));
      const result = mergeBatch(schema, slice, batch);
      const changes = emptyChanges();
      appendMergeResult(changes, schema, libraryId, 0, batch, result, slice);
      await client.query('BEGIN');
      await repository.write(client, changes);
      await client.query('COMMIT');
      slice = result.slice;
    }
    await client.query(
      `INSERT INTO partition_offsets (topic, partition, next_offset) VALUES ($1, 0, $2)`,
      [TOPIC, ops.length],
    );
    for (const table of [
      'records',
      'relations',
      'operations',
      'rejected_operations',
      'libraries',
    ]) {
      await client.query(`VACUUM ANALYZE ${table}`);
    }
  } finally {
    await client.end();
  }
  const recordIds = [...slice.records.keys()];
  console.error(`seeded ${ops.length} ops in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    libraryId,
    ops: ops.length,
    lastOffset: BigInt(ops.length - 1),
    recordIds,
    records: slice.records.size,
    relations: slice.relations.size,
  };
}

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

async function getOk(url: string): Promise<unknown> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** One request, with the service's RSS sampled every 10 ms: time, and peak growth over before. */
async function measured(
  url: string,
  pid: number,
): Promise<{ ms: number; rssGrowthMb: number; body: unknown }> {
  const before = rssKb(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 10);
  const start = process.hrtime.bigint();
  try {
    const body = await getOk(url);
    return {
      ms: Number(process.hrtime.bigint() - start) / 1e6,
      rssGrowthMb: (peak - before) / 1024,
      body,
    };
  } finally {
    clearInterval(timer);
  }
}

/** Baseline: the same visible rows by plain keyset SQL, 1000 per round trip, hashed here. */
async function rawDigest(url: string, libraryId: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const start = process.hrtime.bigint();
  const hash = createHash('sha256');
  try {
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: { record_id: string; model: string; data: unknown }[] } =
        await client.query<{ record_id: string; model: string; data: unknown }>(
          `SELECT record_id, model, data FROM records WHERE library_id = $1 AND NOT deleted
            AND ($2::uuid IS NULL OR record_id > $2::uuid) ORDER BY record_id LIMIT 1000`,
          [libraryId, after],
        );
      for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
      if (rows.length < 1000) break;
      after = rows[rows.length - 1].record_id;
    }
    let key: [string, string] | null = null;
    for (;;) {
      const { rows }: { rows: { item_id: string; group_id: string; data: unknown }[] } =
        await client.query<{ item_id: string; group_id: string; data: unknown }>(
          `SELECT item_id, group_id, data FROM relations
          WHERE library_id = $1 AND relation = 'TagOnObject' AND present
            AND ($2::uuid IS NULL OR (item_id, group_id) > ($2::uuid, $3::uuid))
          ORDER BY item_id, group_id LIMIT 1000`,
          [libraryId, key?.[0] ?? null, key?.[1] ?? null],
        );
      for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
      if (rows.length < 1000) break;
      key = [rows[rows.length - 1].item_id, rows[rows.length - 1].group_id];
    }
    hash.digest('hex');
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    await client.end();
  }
}

async function latencies(
  count: number,
  next: () => Promise<unknown>,
): Promise<{ p50: number; p99: number }> {
  const sample: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await next();
    sample.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { p50: percentile(sample, 50), p99: percentile(sample, 99) };
}

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = new URL(base);
  url.pathname = `/sync_bench_log_${randomUUID().slice(0, 8)}`;
  const dbUrl = url.toString();
  const dropBenchDatabase = dropDatabaseWithBench(dbUrl);
  await migrateDatabase(dbUrl);
  const port = await freePort();
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    const seeded = await seed(dbUrl);
    service = await startService('query', port, {
      QUERY_PORT: String(port),
      QUERY_HOST: '127.0.0.1',
      DATABASE_URL: dbUrl,
      SYNC_TOPIC: TOPIC,
      SYNC_TOPIC_PARTITIONS: '1',
      SYNC_AUTH_DISABLED: 'true',
    });
    const pid = service.child.pid as number;
    const lib = `${service.url}/libraries/${seeded.libraryId}`;
    const middle = seeded.lastOffset / 2n;
    const report: string[] = [];
    const say = (line: string) => {
      report.push(line);
      console.log(line);
    };
    say(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GB, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    say(
      `database: ${redactUrl(dbUrl)}; library: ${seeded.ops} ops, ${seeded.records} records, ${seeded.relations} relations (all visible at the end)`,
    );
    await getOk(`${lib}/digest`); // warm-up: plans, pool, caches
    for (let round = 1; round <= ROUNDS; round++) {
      const live = await measured(`${lib}/digest`, pid);
      const { records, relations } = live.body as { records: number; relations: number };
      const raw = await rawDigest(dbUrl, seeded.libraryId);
      const asOf = await measured(`${lib}/digest?asOf=${middle}`, pid);
      const mid = asOf.body as { records: number; relations: number };
      say(
        `round ${round}: digest ${records}+${relations} rows ${live.ms.toFixed(0)} ms ` +
          `(${Math.round(((records + relations) / live.ms) * 1000)} rows/s, RSS +${live.rssGrowthMb.toFixed(1)} MB); ` +
          `raw SQL+hash of the same rows ${raw.toFixed(0)} ms; ` +
          `digest?asOf=${middle} ${mid.records}+${mid.relations} rows ${asOf.ms.toFixed(0)} ms ` +
          `(${Math.round(((mid.records + mid.relations) / asOf.ms) * 1000)} rows/s, RSS +${asOf.rssGrowthMb.toFixed(1)} MB)`,
      );
    }
    // Not a timing: the engine over the whole log (asOf, 1000-key batches) must give the state
    // of the projection rows, across every batch boundary of a library this size.
    const live = (await getOk(`${lib}/digest`)) as { digest: string };
    const rebuilt = (await getOk(`${lib}/digest?asOf=${seeded.lastOffset}`)) as { digest: string };
    if (rebuilt.digest !== live.digest) {
      throw new Error(`digest?asOf=${seeded.lastOffset} ${rebuilt.digest} != live ${live.digest}`);
    }
    say(`check: digest?asOf=${seeded.lastOffset} equals the live digest (${live.digest})`);
    let cursor: string | null = null;
    const recordsPage = await latencies(50, async () => {
      const body = (await getOk(
        `${lib}/records?asOf=${middle}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      )) as { nextCursor: string | null };
      cursor = body.nextCursor;
    });
    let relCursor: string | null = null;
    const relationsPage = await latencies(50, async () => {
      const body = (await getOk(
        `${lib}/relations?asOf=${middle}&limit=100${relCursor ? `&cursor=${relCursor}` : ''}`,
      )) as { nextCursor: string | null };
      relCursor = body.nextCursor;
    });
    const livePage = await latencies(50, () => getOk(`${lib}/records?limit=100`));
    say(
      `asOf=${middle} page of 100 (walking on): records p50 ${recordsPage.p50.toFixed(1)} ms p99 ${recordsPage.p99.toFixed(1)} ms; ` +
        `relations p50 ${relationsPage.p50.toFixed(1)} ms p99 ${relationsPage.p99.toFixed(1)} ms; ` +
        `live records page p50 ${livePage.p50.toFixed(1)} ms p99 ${livePage.p99.toFixed(1)} ms`,
    );
    const pick = () => seeded.recordIds[Math.floor(Math.random() * seeded.recordIds.length)];
    const client = new Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT log_offset, operation FROM operations
          WHERE library_id = $1 AND (operation->>'recordId') = $2 ORDER BY log_offset LIMIT 101`,
        [seeded.libraryId, pick()],
      );
      say(
        `plan of the history key read: ${plan.rows.map((r) => r['QUERY PLAN'].trim()).join(' | ')}`,
      );
      const history = await latencies(HISTORY_READS, () =>
        getOk(`${lib}/records/${pick()}/history`),
      );
      const rawHistory = await latencies(HISTORY_READS, () =>
        client.query(
          `SELECT log_offset, operation FROM operations
            WHERE library_id = $1 AND (operation->>'recordId') = $2 ORDER BY log_offset LIMIT 101`,
          [seeded.libraryId, pick()],
        ),
      );
      say(
        `history of a random record (${HISTORY_READS} sequential reads): p50 ${history.p50.toFixed(2)} ms p99 ${history.p99.toFixed(2)} ms; ` +
          `raw SQL over the key index p50 ${rawHistory.p50.toFixed(2)} ms p99 ${rawHistory.p99.toFixed(2)} ms`,
      );
    } finally {
      await client.end();
    }
  } finally {
    await service?.stop();
    await dropBenchDatabase();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
