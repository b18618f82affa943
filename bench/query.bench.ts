import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { migrateDatabase, redactUrl } from '@sync/persistence';
import { defaultSchema } from '@sync/protocol';
import { recordCursor } from '../apps/query/src/cursor';
import {
  autocannon,
  freePort,
  median,
  percentile,
  sleep,
  startService,
} from './query-bench-support';
import { benchArgs, cpuProfileArgs, cpuProfileOption } from './bench-args';
import { dropDatabaseWithBench } from './child-processes';
import { processCpuMs } from './proc-stats';

/**
 * Query service read benchmark: one library of N records (seeded with COPY, shaped like the
 * projector writes them), the service in its own process, autocannon on loopback.
 *
 *   npm run build && node dist/bench/query.bench.js [--records 100000] [--duration 10]
 *     [--connections 8] [--rounds 3] [--smoke] [--cpu-prof DIR] [--only TEXT]
 *
 * (`--help` lists the options with their defaults.)
 *
 * Each scenario runs at 1 and at `connections` concurrent connections, `rounds` times,
 * interleaved; the table shows the round with the median requests/s and the p99 of every
 * round. CPU per request (the service process, and the Postgres backends serving it) is
 * measured from /proc and is much less sensitive to other load on the machine than latency.
 *
 * `--smoke` is a few seconds' check that the benchmark still works (2,000 records, one short
 * round), not a measurement. Any request that does not answer 2xx fails the run (non-zero exit).
 * The service runs with SYNC_AUTH_DISABLED=true: this measures reads, not key checks.
 * `--cpu-prof DIR` writes a CPU profile of the query service into DIR when it stops.
 * `--only TEXT` runs only the scenarios whose name contains TEXT (e.g. `feed`).
 *
 * DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres); the
 * benchmark creates and drops its own database sync_bench_query_<random>.
 */
const args = benchArgs({
  usage: 'node dist/bench/query.bench.js [options]',
  summary:
    'Query service reads: one library of N records, the service in its own process,\n' +
    'autocannon on loopback, each scenario at 1 and at `connections` connections.',
  options: {
    records: {
      kind: 'integer',
      description: 'records in the library',
      default: 100_000,
      smoke: 2000,
    },
    duration: { kind: 'number', description: 'seconds per scenario run', default: 10, smoke: 1 },
    connections: {
      kind: 'integer',
      description: 'concurrent connections of the second run',
      default: 8,
      smoke: 2,
    },
    rounds: {
      kind: 'integer',
      description: 'rounds, interleaved; the table shows the median',
      default: 3,
      smoke: 1,
    },
    only: { kind: 'text', description: 'only the scenarios whose name contains TEXT (e.g. feed)' },
    'cpu-prof': cpuProfileOption('the query service writes a CPU profile into DIR when it stops'),
    smoke: {
      kind: 'flag',
      description: '2,000 records, one short round: a check, not a measurement',
    },
  },
});
const SMOKE = args.smoke;
const RECORDS = args.records;
const DURATION_S = args.duration;
const CONNECTIONS = args.connections;
const ROUNDS = args.rounds;
const WARMUP_S = SMOKE ? 1 : 3;
const ONLY = args.only;
const PROFILE_ARGS = cpuProfileArgs(args['cpu-prof']);
const TOPIC = 'bench.query.operations';

async function seed(url: string, libraryId: string): Promise<string[]> {
  const schema = defaultSchema();
  const models = ['Object', 'Tag', 'FilePath', 'Label'] as const;
  const client = new Client({ connectionString: url });
  await client.connect();
  const ids: string[] = [];
  try {
    await client.query(
      `INSERT INTO libraries (library_id, partition, operations, rejected, first_offset, last_offset)
       VALUES ($1, 0, $2, 0, 0, $2)`,
      [libraryId, RECORDS],
    );
    await client.query(
      `INSERT INTO partition_offsets (topic, partition, next_offset) VALUES ($1, 0, $2)`,
      [TOPIC, RECORDS],
    );
    const node = randomUUID();
    const hybridBase = 1_750_000_000n << 32n;
    function* rows(): Generator<string> {
      for (let i = 0; i < RECORDS; i++) {
        const id = randomUUID();
        ids.push(id);
        const model = models[i % models.length];
        const def = schema.model(model)!;
        const data: Record<string, unknown> = {};
        const clocks: Record<string, [string, string]> = {};
        for (const field of def.fieldNames) {
          const type = def.fields[field].type;
          data[field] =
            type === 'string'
              ? `${field}-${i}`
              : type === 'int'
                ? i
                : type === 'bool'
                  ? i % 2 === 0
                  : type === 'datetime'
                    ? '2025-01-01T00:00:00.000Z'
                    : null;
          clocks[field] = [(hybridBase + BigInt(i) * 16n).toString(), node];
        }
        // COPY text format: tab-separated; the JSON holds no tabs, newlines or backslashes.
        yield `${libraryId}\t${id}\t${model}\t${model === 'FilePath' ? node : '\\N'}\tf\t${JSON.stringify(data)}\t${JSON.stringify(clocks)}\t${i}\n`;
      }
    }
    const copy = client.query(
      copyFrom(
        `COPY records (library_id, record_id, model, owner, deleted, data, clocks, updated_offset) FROM STDIN`,
      ),
    );
    await pipeline(Readable.from(rows()), copy);
    // The op log the feed reads: each record's CREATE at its offset, as the projector logs it.
    await client.query(
      `INSERT INTO operations (library_id, log_offset, node, hybrid, content_hash, operation)
       SELECT library_id, updated_offset, $2::uuid, h.hybrid, md5(record_id::text),
              jsonb_build_object('type', 'CREATE', 'recordId', record_id, 'model', model,
                'data', data, 'node', $2::text, 'timestamp', jsonb_build_object('hybrid', h.hybrid::text))
         FROM records CROSS JOIN LATERAL (SELECT $3::numeric + updated_offset * 16 AS hybrid) h
        WHERE library_id = $1`,
      [libraryId, node, hybridBase.toString()],
    );
    await client.query('VACUUM ANALYZE operations');
    await client.query('VACUUM ANALYZE records');
    await client.query('VACUUM ANALYZE libraries');
  } finally {
    await client.end();
  }
  return ids;
}

interface ScenarioResult {
  name: string;
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  serviceCpuUs: number;
  postgresCpuUs: number;
  load: number;
}

/** Where the CPU goes: the service process and the Postgres backends of its pool. */
interface CpuProbe {
  servicePid?: number;
  postgresPids(): Promise<number[]>;
}

async function scenario(
  name: string,
  baseUrl: string,
  connections: number,
  durationS: number,
  path: () => string,
  cpu: CpuProbe,
): Promise<ScenarioResult> {
  const latencies: number[] = [];
  const backends = await cpu.postgresPids();
  const cpuMs = (pid: number | undefined) => processCpuMs(pid) ?? 0;
  const serviceBefore = cpuMs(cpu.servicePid);
  const postgresBefore = backends.reduce((sum, pid) => sum + cpuMs(pid), 0);
  let non2xx = 0;
  const instance = autocannon({
    url: baseUrl,
    connections,
    duration: durationS,
    requests: [
      {
        setupRequest: (request) => {
          request.path = path();
          return request;
        },
      },
    ],
  });
  // autocannon's own histogram has 1 ms resolution; keep every response time instead.
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else non2xx++;
  });
  const result = await instance;
  const serviceMs = cpuMs(cpu.servicePid) - serviceBefore;
  const postgresMs = backends.reduce((sum, pid) => sum + cpuMs(pid), 0) - postgresBefore;
  const failed = Math.max(non2xx, result.non2xx) + result.errors + result.timeouts;
  if (failed > 0 || latencies.length === 0) {
    throw new Error(
      `${name}, ${connections} connections: ${failed} of ${failed + latencies.length} requests failed ` +
        `(non-2xx ${Math.max(non2xx, result.non2xx)}, errors ${result.errors}, timeouts ${result.timeouts})`,
    );
  }
  const perRequestUs = (ms: number) => (ms * 1000) / Math.max(latencies.length, 1);
  return {
    name,
    connections,
    requests: latencies.length,
    rps: latencies.length / durationS,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: percentile(latencies, 100),
    serviceCpuUs: perRequestUs(serviceMs),
    postgresCpuUs: perRequestUs(postgresMs),
    load: loadavg()[0],
  };
}

async function main(): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/sync_bench_query_${randomUUID().slice(0, 8)}`;
  const url = base.toString();
  const libraryId = randomUUID();
  console.log(`database ${redactUrl(url)}: seeding ${RECORDS} records`);
  const dropBenchDatabase = dropDatabaseWithBench(url);
  await migrateDatabase(url);
  const started = Date.now();
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    const ids = await seed(url, libraryId);
    console.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const port = await freePort();
    service = await startService(
      'query',
      port,
      {
        QUERY_PORT: String(port),
        QUERY_HOST: '127.0.0.1',
        DATABASE_URL: url,
        SYNC_TOPIC: TOPIC,
        SYNC_TOPIC_PARTITIONS: '1',
        // Measures reads; key checks are measured nowhere here (as in the ingest benchmark).
        SYNC_AUTH_DISABLED: 'true',
      },
      60_000,
      PROFILE_ARGS,
    );
    const lib = `/libraries/${libraryId}`;
    const randomId = () => ids[Math.floor(Math.random() * ids.length)];
    const allScenarios: [string, () => string][] = [
      ['one record (GET /records/{id})', () => `${lib}/records/${randomId()}`],
      [
        '100-record page (GET /records?limit=100&cursor)',
        () => `${lib}/records?limit=100&cursor=${recordCursor.encode(randomId())}`,
      ],
      [
        '100-record page, one model (?model=Object)',
        () => `${lib}/records?model=Object&limit=100&cursor=${recordCursor.encode(randomId())}`,
      ],
      [
        'one record with minOffset (already applied)',
        () => `${lib}/records/${randomId()}?minOffset=${RECORDS - 1}`,
      ],
      [
        'feed page of 100 ops (GET /operations?after&limit=100)',
        () => `${lib}/operations?after=${Math.floor(Math.random() * (RECORDS - 100))}&limit=100`,
      ],
    ];
    const scenarios = allScenarios.filter(([name]) => ONLY === undefined || name.includes(ONLY));
    if (scenarios.length === 0) throw new Error(`--only ${ONLY}: no scenario has that in its name`);
    const probe = new Client({ connectionString: url });
    await probe.connect();
    const cpu: CpuProbe = {
      servicePid: service.child.pid,
      postgresPids: async () =>
        (
          await probe.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'sync-query%'`,
          )
        ).rows.map((row) => row.pid),
    };
    const runs = new Map<string, ScenarioResult[]>();
    try {
      for (const [name, path] of scenarios) {
        await scenario(`${name} (warm-up)`, service.url, CONNECTIONS, WARMUP_S, path, cpu);
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, path] of scenarios) {
          for (const connections of [1, CONNECTIONS]) {
            const result = await scenario(name, service.url, connections, DURATION_S, path, cpu);
            console.log(JSON.stringify(result));
            const key = `${name}|${connections}`;
            runs.set(key, [...(runs.get(key) ?? []), result]);
            await sleep(300);
          }
        }
      }
    } finally {
      await probe.end();
    }
    console.log(
      `\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
        `${RECORDS} records; ${ROUNDS} rounds of ${DURATION_S} s; node ${process.version}\n`,
    );
    console.log(
      '| scenario | conns | requests/s | p50 ms | p90 ms | p99 ms | max ms | service cpu µs/req | postgres cpu µs/req | p99 per round | load 1m per round |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const all of runs.values()) {
      const rps = median(all.map((r) => r.rps));
      const r = all.find((candidate) => candidate.rps === rps) ?? all[0];
      console.log(
        `| ${r.name} | ${r.connections} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ` +
          `${Math.round(median(all.map((run) => run.serviceCpuUs)))} | ${Math.round(median(all.map((run) => run.postgresCpuUs)))} | ` +
          `${all.map((run) => run.p99.toFixed(1)).join(' / ')} | ${all.map((run) => run.load.toFixed(1)).join(' / ')} |`,
      );
    }
  } finally {
    await service?.stop();
    await dropBenchDatabase();
  }
}

main().catch((error: unknown) => {
  console.error('query bench FAILED:', error);
  process.exit(1);
});
