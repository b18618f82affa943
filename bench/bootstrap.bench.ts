import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import {
  ProjectionRepository,
  appendMergeResult,
  emptyChanges,
  migrateDatabase,
  redactUrl,
} from '@sync/persistence';
import { defaultSchema, emptySlice, mergeBatch } from '@sync/protocol';
import { LIBRARY_SIZE_OPTIONS, libraryChunks, librarySizes } from './bootstrap-library';
import { REPO_DIST, freePort, median, startService } from './query-bench-support';
import { benchArgs, cpuProfileArgs, cpuProfileOption } from './bench-args';
import { dieWithBench, dropDatabaseWithBench } from './child-processes';

/**
 * Initial sync, end to end, next to what Postgres itself can stream (issue #20): for libraries
 * of growing size, in one run,
 *
 *   - raw COPY (SELECT json_build_object(...)) TO STDOUT of the snapshot's rows, in its shape;
 *   - GET /snapshot (identity, and with Accept-Encoding: gzip), ?order=none with gzip, and
 *     ?order=none&clocks=compact with gzip (what the client asks);
 *   - raw COPY of the op rows in the feed's {offset, operation} shape;
 *   - the whole feed pulled page by page (limit=1000, the contract's maximum);
 *   - a fresh client: SyncNode.bootstrapFromSnapshot(), and sync() from empty (feed replay),
 *     each in its own process so its peak RSS is the client's alone.
 *
 * Time, bytes on the wire (what the socket carried, before any decompression), the query
 * service's RSS at the start of the step and its peak during it (sampled from /proc every 20 ms;
 * the service is started fresh per library size), and the client's peak RSS (VmHWM).
 *
 * Seeding: each record gets a CREATE (every field set) and two UPDATEs, every Object a
 * TagOnObject relation to a Tag of its chunk; ops from four nodes, increasing hybrids, log
 * offsets 0..n-1 of partition 0. The ops go through the real merge engine (mergeBatch) and the
 * projector's own row builder and writer (appendMergeResult + ProjectionRepository.write, which
 * COPYs created rows), in chunks of 1000 records, so the tables hold exactly what the projector
 * would write for that log, without Kafka: pushing 3M ops through Kafka would measure the
 * ingest and projector (bench/projector.bench.ts does), not initial sync, and take far longer.
 *
 *   npm run build && node dist/bench/bootstrap.bench.js [--sizes 10000,100000] [--huge]
 *     [--runs 3] [--smoke] [--feed-page N] [--pull-page N] [--client-store file|memory]
 *     [--cpu-prof DIR]   (`--help` lists the options with their defaults)
 *
 * --huge adds a 1,000,000-record library; --cpu-prof DIR writes CPU profiles of the query
 * service and of the client processes there; --smoke is one 300-record library, one run (CI, see
 * test/bootstrap-bench.e2e-spec.ts); --feed-page N also pulls the feed in pages of N through
 * its NDJSON form (Accept: application/x-ndjson; services that have it); --pull-page N adds a
 * client sync() with pullPageSize N (clients that allow more than 1000); --client-store is the
 * clients' store: a JsonFileStore in a temp directory (default) or a MemoryStore. Exits non-zero when any request or check fails.
 * DATABASE_URL names the server; each size gets its own database sync_bench_boot_<random>.
 */

const TOPIC = 'bench.bootstrap.operations';
const SAMPLE_MS = 20;

const args = benchArgs({
  usage: 'node dist/bench/bootstrap.bench.js [options]',
  summary:
    'Initial sync, end to end, next to what Postgres itself can stream: snapshot, feed and fresh\n' +
    'clients for libraries of growing size; time, bytes on the wire, service and client RSS.',
  options: {
    ...LIBRARY_SIZE_OPTIONS,
    runs: {
      kind: 'integer',
      description: 'runs of every step; the table shows medians',
      default: 3,
    },
    'feed-page': {
      kind: 'integer',
      description: 'also pulls the feed in pages of N through its NDJSON form',
    },
    'pull-page': { kind: 'integer', description: 'adds a client sync() with pullPageSize N' },
    'client-store': {
      kind: 'text',
      choices: ['file', 'memory'],
      description: "the clients' store: a JsonFileStore in a temp directory, or a MemoryStore",
      default: 'file',
    },
    'cpu-prof': cpuProfileOption(
      'the query service and the client processes write CPU profiles into DIR',
    ),
    smoke: {
      kind: 'flag',
      description: 'one 300-record library, one run (sizes and runs ignored): a check',
    },
  },
});
const SMOKE = args.smoke;
const SIZES = SMOKE ? [300] : librarySizes(args);
const RUNS = SMOKE ? 1 : args.runs;
const FEED_PAGE = args['feed-page'];
const PULL_PAGE = args['pull-page'];
const CLIENT_STORE = args['client-store'];
const PROFILE_ARGS = cpuProfileArgs(args['cpu-prof']);

interface Library {
  libraryId: string;
  records: number;
  relations: number;
  operations: number;
}

/** Seeds one library of `size` records; see the file header for how and why. */
async function seed(url: string, size: number): Promise<Library> {
  const schema = defaultSchema();
  const libraryId = randomUUID();
  const writer = new ProjectionRepository();
  const client = new Client({ connectionString: url });
  await client.connect();
  let operations = 0;
  let relations = 0;
  try {
    for (const batch of libraryChunks(size)) {
      operations += batch.length;
      relations += batch.filter(({ op }) => 'relation' in op).length;
      const loaded = emptySlice();
      const result = mergeBatch(schema, loaded, batch);
      if (result.rejections.length > 0) {
        throw new Error(
          `seed: ${result.rejections.length} ops rejected (${result.rejections[0].reason})`,
        );
      }
      const changes = emptyChanges();
      appendMergeResult(changes, schema, libraryId, 0, batch, result, loaded);
      await client.query('BEGIN');
      await writer.write(client, changes);
      await client.query('COMMIT');
    }
    await client.query(
      `INSERT INTO partition_offsets (topic, partition, next_offset) VALUES ($1, 0, $2)`,
      [TOPIC, String(operations)],
    );
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
  return { libraryId, records: size, relations, operations };
}

/** Peak RSS of a process while `work` runs, sampled from /proc. */
async function withRss<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ value: T; startMb: number; peakMb: number }> {
  const rss = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  };
  const startMb = rss();
  let peakMb = startMb;
  const timer = setInterval(() => {
    peakMb = Math.max(peakMb, rss());
  }, SAMPLE_MS);
  try {
    const value = await work();
    peakMb = Math.max(peakMb, rss());
    return { value, startMb, peakMb };
  } finally {
    clearInterval(timer);
  }
}

/** Bytes of a COPY ... TO STDOUT, read and dropped. */
async function copyOut(url: string, sql: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let bytes = 0;
  try {
    await pipeline(
      client.query(copyTo(sql)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done();
        },
      }),
    );
  } finally {
    await client.end();
  }
  return bytes;
}

/**
 * One GET: status must be 200. Returns the bytes the socket carried and the (decompressed)
 * body, whole or only its last 64 KB (`tail`: what the benchmark checks of a snapshot, so the
 * benchmark itself does not hold 100 MB strings).
 */
function get(
  url: string,
  headers: Record<string, string>,
  keep: 'all' | 'tail',
): Promise<{ wireBytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let wireBytes = 0;
      res.on('data', (chunk: Buffer) => (wireBytes += chunk.length));
      const coding = String(res.headers['content-encoding'] ?? 'identity');
      const body: Readable =
        coding === 'gzip'
          ? res.pipe(createGunzip())
          : coding === 'br'
            ? res.pipe(createBrotliDecompress())
            : res;
      body.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        kept += chunk.length;
        while (keep === 'tail' && chunks.length > 1 && kept - chunks[0].length >= 65536) {
          kept -= (chunks.shift() as Buffer).length;
        }
      });
      body.on('error', reject);
      body.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${url}: ${res.statusCode} ${text.slice(0, 300)}`));
        } else if (!res.complete) {
          reject(new Error(`GET ${url}: response cut after ${wireBytes} bytes`));
        } else {
          resolve({ wireBytes, body: text });
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The snapshot's last line must be its `end` line with the library's counts. */
function checkSnapshotEnd(text: string, library: Library): void {
  const lines = text.trimEnd().split('\n');
  const end = JSON.parse(lines[lines.length - 1]) as {
    type?: string;
    records?: number;
    relations?: number;
  };
  if (
    end.type !== 'end' ||
    end.records !== library.records ||
    end.relations !== library.relations
  ) {
    throw new Error(`snapshot ended with ${lines[lines.length - 1]}`);
  }
}

async function pullFeed(base: string, library: Library): Promise<number> {
  let wire = 0;
  let after = '-1';
  let count = 0;
  for (;;) {
    const page = await get(
      `${base}/libraries/${library.libraryId}/operations?after=${after}&limit=1000`,
      { accept: 'application/json' },
      'all',
    );
    wire += page.wireBytes;
    const body = JSON.parse(page.body) as {
      items: { offset: string }[];
      nextCursor: string | null;
    };
    count += body.items.length;
    if (body.items.length > 0) after = body.items[body.items.length - 1].offset;
    if (body.nextCursor === null) break;
  }
  if (count !== library.operations)
    throw new Error(`feed held ${count} ops, not ${library.operations}`);
  return wire;
}

async function pullFeedStreamed(base: string, library: Library, limit: number): Promise<number> {
  let wire = 0;
  let after = '-1';
  let count = 0;
  for (;;) {
    const answer = await get(
      `${base}/libraries/${library.libraryId}/operations?after=${after}&limit=${limit}`,
      { accept: 'application/x-ndjson', 'accept-encoding': 'identity' },
      'all',
    );
    wire += answer.wireBytes;
    const lines = answer.body.split('\n').filter((line) => line.length > 0);
    const end = JSON.parse(lines.pop() ?? '{}') as { type?: string; nextCursor?: string | null };
    if (end.type !== 'end') throw new Error('NDJSON feed answer without its end line');
    count += lines.length;
    if (lines.length > 0)
      after = (JSON.parse(lines[lines.length - 1]) as { offset: string }).offset;
    if (end.nextCursor === null) break;
  }
  if (count !== library.operations) {
    throw new Error(`feed held ${count} ops, not ${library.operations}`);
  }
  return wire;
}

function runClient(
  mode: 'snapshot' | 'sync',
  base: string,
  library: Library,
  pullPageSize?: number,
): Promise<{ ms: number; peakRssMb: number }> {
  const script = join(REPO_DIST, 'bench', 'bootstrap-client.js');
  const argv = [
    ...PROFILE_ARGS,
    script,
    mode,
    base,
    library.libraryId,
    String(library.records),
    String(library.relations),
    CLIENT_STORE,
    ...(pullPageSize === undefined ? [] : [String(pullPageSize)]),
  ];
  return new Promise((resolve, reject) => {
    dieWithBench(
      execFile(process.execPath, argv, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`client ${mode} failed: ${stderr || error.message}`));
        resolve(
          JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { ms: number; peakRssMb: number },
        );
      }),
    );
  });
}

interface Sample {
  ms: number;
  wireBytes: number;
  serviceStartMb?: number;
  servicePeakMb?: number;
  clientPeakMb?: number;
}

async function main(): Promise<void> {
  const table: string[] = [];
  const startedAt = new Date().toISOString();
  for (const size of SIZES) {
    const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    base.pathname = `/sync_bench_boot_${randomUUID().slice(0, 8)}`;
    const url = base.toString();
    const dropBenchDatabase = dropDatabaseWithBench(url);
    await migrateDatabase(url);
    let service: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const seedStart = performance.now();
      const library = await seed(url, size);
      console.log(
        `${redactUrl(url)}: ${size} records, ${library.relations} relations, ${library.operations} ops seeded in ` +
          `${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
      );
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
          SYNC_AUTH_DISABLED: 'true',
          // A snapshot's COPY of a large library runs longer than the default 10 s statement
          // timeout (overload protection), which cuts the stream: measured here is streaming.
          QUERY_STATEMENT_TIMEOUT_MS: '600000',
        },
        60_000,
        PROFILE_ARGS,
      );
      const pid = service.child.pid as number;
      const lib = `${service.url}/libraries/${library.libraryId}`;
      const id = library.libraryId;
      const steps: [string, () => Promise<Sample>][] = [];
      const timed = async (work: () => Promise<number>, onService: boolean): Promise<Sample> => {
        const started = performance.now();
        if (!onService) {
          const wireBytes = await work();
          return { ms: performance.now() - started, wireBytes };
        }
        const { value, startMb, peakMb } = await withRss(pid, work);
        return {
          ms: performance.now() - started,
          wireBytes: value,
          serviceStartMb: startMb,
          servicePeakMb: peakMb,
        };
      };
      steps.push([
        'raw COPY of the snapshot rows (json_build_object)',
        () =>
          timed(
            async () =>
              (await copyOut(
                url,
                `COPY (SELECT json_build_object('type', 'record', 'id', record_id, 'model', model,
                         'data', data, 'deleted', deleted, 'owner', owner, 'clocks', clocks)
                         FROM records WHERE library_id = '${id}' ORDER BY record_id) TO STDOUT`,
              )) +
              (await copyOut(
                url,
                `COPY (SELECT json_build_object('type', 'relation', 'relation', r.relation,
                         'item', r.item_id, 'group', r.group_id, 'data', r.data,
                         'visible', (r.present AND NOT i.deleted AND NOT g.deleted),
                         'present', r.present, 'presenceClock', r.presence_clock, 'clocks', r.clocks)
                         FROM relations r
                         LEFT JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id
                         LEFT JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id
                        WHERE r.library_id = '${id}' ORDER BY r.relation, r.item_id, r.group_id) TO STDOUT`,
              )),
            false,
          ),
      ]);
      const snapshot =
        (encoding: string, query = '') =>
        async () => {
          const answer = await get(
            `${lib}/snapshot${query}`,
            { 'accept-encoding': encoding },
            'tail',
          );
          checkSnapshotEnd(answer.body, library);
          return answer.wireBytes;
        };
      steps.push(['GET /snapshot', () => timed(snapshot('identity'), true)]);
      steps.push(['GET /snapshot, Accept-Encoding: gzip', () => timed(snapshot('gzip'), true)]);
      steps.push([
        'GET /snapshot?order=none, gzip',
        () => timed(snapshot('gzip', '?order=none'), true),
      ]);
      // What a bootstrapping client asks: rows unsorted, no wait before the first one, each
      // record's field clocks as one string.
      steps.push([
        'GET /snapshot?order=none&clocks=compact, gzip',
        () => timed(snapshot('gzip', '?order=none&clocks=compact'), true),
      ]);
      steps.push([
        'raw COPY of the op rows ({offset, operation})',
        () =>
          timed(
            () =>
              copyOut(
                url,
                `COPY (SELECT json_build_object('offset', log_offset::text, 'operation', operation)
                         FROM operations WHERE library_id = '${id}' ORDER BY log_offset) TO STDOUT`,
              ),
            false,
          ),
      ]);
      steps.push([
        'feed pull, limit=1000 (JSON pages)',
        () => timed(() => pullFeed(service!.url, library), true),
      ]);
      if (FEED_PAGE !== undefined) {
        steps.push([
          `feed pull, limit=${FEED_PAGE} (NDJSON)`,
          () => timed(() => pullFeedStreamed(service!.url, library, FEED_PAGE), true),
        ]);
      }
      const clients: [string, 'snapshot' | 'sync', number | undefined][] = [
        ['client bootstrapFromSnapshot()', 'snapshot', undefined],
        ['client sync() from empty', 'sync', undefined],
      ];
      if (PULL_PAGE !== undefined) {
        clients.push([`client sync() from empty, pullPageSize ${PULL_PAGE}`, 'sync', PULL_PAGE]);
      }
      for (const [name, mode, pullPageSize] of clients) {
        steps.push([
          name,
          async () => {
            const { value, startMb, peakMb } = await withRss(pid, () =>
              runClient(mode, service!.url, library, pullPageSize),
            );
            return {
              ms: value.ms,
              wireBytes: NaN,
              serviceStartMb: startMb,
              servicePeakMb: peakMb,
              clientPeakMb: value.peakRssMb,
            };
          },
        ]);
      }
      const samples = new Map<string, Sample[]>();
      for (let run = 0; run < RUNS; run++) {
        for (const [name, step] of steps) {
          const sample = await step();
          console.log(JSON.stringify({ size, run, step: name, ...sample, load1m: loadavg()[0] }));
          samples.set(name, [...(samples.get(name) ?? []), sample]);
        }
      }
      const rawSnapshot = median(samples.get(steps[0][0])!.map((s) => s.ms));
      const rawOps = median(
        samples.get('raw COPY of the op rows ({offset, operation})')!.map((s) => s.ms),
      );
      for (const [name, all] of samples) {
        const ms = all.map((s) => s.ms);
        const mid = median(ms);
        const raw =
          name.includes('snapshot') && !name.startsWith('client')
            ? rawSnapshot
            : name.startsWith('feed')
              ? rawOps
              : NaN;
        const mb = (values: (number | undefined)[]) => {
          const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
          return known.length === 0 ? '' : Math.max(...known).toFixed(0);
        };
        table.push(
          `| ${size} | ${name} | ${(mid / 1000).toFixed(2)} | ${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)} | ` +
            `${Number.isFinite(raw) && !name.startsWith('raw') ? (raw / mid).toFixed(2) : ''} | ` +
            `${Number.isFinite(all[0].wireBytes) ? (all[0].wireBytes / 1e6).toFixed(1) : ''} | ` +
            `${mb(all.map((s) => s.serviceStartMb))} | ${mb(all.map((s) => s.servicePeakMb))} | ${mb(all.map((s) => s.clientPeakMb))} |`,
        );
      }
    } finally {
      await service?.stop();
      await dropBenchDatabase();
    }
  }
  console.log(
    `\n${startedAt}; machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
      `load 1m ${loadavg()[0].toFixed(1)}; ${RUNS} run(s) per step; client store ${CLIENT_STORE}; ` +
      `node ${process.version}\n`,
  );
  console.log(
    '| records | step | median s | min–max s | rate vs raw COPY | wire MB | service RSS at start MB | service peak RSS MB | client peak RSS MB |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of table) console.log(row);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
