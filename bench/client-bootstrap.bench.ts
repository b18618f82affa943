import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  type LibrarySlice,
  defaultSchema,
  emptySlice,
  materializeSlice,
  mergeBatch,
  stateDigest,
} from '@sync/protocol';
import {
  snapshotRecordLine,
  snapshotRelationLine,
} from '../libs/client/src/replica/snapshot-slice';
import { LIBRARY_SIZE_OPTIONS, libraryChunks, librarySizes } from './bootstrap-library';
import { REPO_DIST } from './query-bench-support';
import { benchArgs, cpuProfileArgs, cpuProfileOption } from './bench-args';
import { dieWithBench } from './child-processes';

/**
 * The client half of initial sync on its own (issue #20): no Postgres, no query service. The
 * benchmark library of bench/bootstrap.bench.ts is merged here with the real engine and written
 * as the snapshot's NDJSON (view=full, the query service's line shapes) and as the NDJSON feed;
 * a small local HTTP server streams them, and a fresh client (bench/bootstrap-client.ts, its own
 * process with a JsonFileStore, so its peak RSS is the client's alone) runs
 * SyncNode.bootstrapFromSnapshot() or sync() from empty. The client's state digest is checked
 * against the library's, so a fast path that changed the state fails the run.
 *
 *   npm run build && node dist/bench/client-bootstrap.bench.js [--sizes 10000,100000] [--huge]
 *     [--runs 1] [--sync-max 100000] [--pull-page 10000] [--client-store file|memory]
 *     [--cpu-prof DIR] [--smoke]   (`--help` lists the options with their defaults)
 *
 * --huge adds 1,000,000 records; sync() runs only for sizes up to --sync-max (the digest the
 * server answers is computed here from the whole merged library). Prints a markdown table with
 * time, CPU time, peak RSS (VmHWM) and load average per run; exits non-zero on any failure.
 * --smoke is one 300-record library (about 1,000 ops) pulled in pages of 400, so sync() takes
 * several pages: a check that every step still runs (CI, test/bench-smoke.e2e-spec.ts), not a
 * measurement.
 */

const args = benchArgs({
  usage: 'node dist/bench/client-bootstrap.bench.js [options]',
  summary:
    'The client half of initial sync on its own: a local server streams the benchmark library,\n' +
    'a fresh client process bootstraps from the snapshot or syncs from empty.',
  options: {
    ...LIBRARY_SIZE_OPTIONS,
    sizes: { ...LIBRARY_SIZE_OPTIONS.sizes, smoke: [300] },
    runs: { kind: 'integer', description: 'runs per size and client', default: 1 },
    'sync-max': {
      kind: 'integer',
      zero: true,
      description: 'sync() from empty runs only for sizes up to this (0: never)',
      default: 100_000,
    },
    'pull-page': {
      kind: 'integer',
      description: "the client's pullPageSize",
      default: 10_000,
      smoke: 400,
    },
    'client-store': {
      kind: 'text',
      choices: ['file', 'memory'],
      description: "the client's store: a JsonFileStore in a temp directory, or a MemoryStore",
      default: 'file',
    },
    'cpu-prof': cpuProfileOption('the client processes write CPU profiles into DIR'),
    smoke: {
      kind: 'flag',
      description: 'one 300-record library, pulled in pages of 400: a check, not a measurement',
    },
  },
});
const SIZES = librarySizes(args);
const RUNS = args.runs;
const SYNC_MAX = args['sync-max'];
const PULL_PAGE = String(args['pull-page']);
const CLIENT_STORE = args['client-store'];
const PROFILE_ARGS = cpuProfileArgs(args['cpu-prof']);

/** Writes a line, waiting when the file's buffer is full. */
async function writeLine(out: WriteStream, value: unknown): Promise<void> {
  if (!out.write(`${JSON.stringify(value)}\n`)) {
    await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
}

async function closeFile(out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

interface Library {
  libraryId: string;
  records: number;
  relations: number;
  operations: number;
  snapshotPath: string;
  /** Feed lines by offset; only for sizes sync() runs on. */
  feed?: string[];
  digest?: { digest: string; records: number; relations: number };
}

/** Merges the library chunk by chunk and writes its snapshot (and keeps its feed lines). */
async function generate(size: number, directory: string): Promise<Library> {
  const schema = defaultSchema();
  const libraryId = randomUUID();
  const snapshotPath = join(directory, `snapshot-${size}.ndjson`);
  const out = createWriteStream(snapshotPath);
  const withFeed = size <= SYNC_MAX;
  const feed: string[] = [];
  const whole: LibrarySlice | undefined = withFeed ? emptySlice() : undefined;
  let relations = 0;
  let operations = 0;
  let clock = 0n;
  const body: unknown[] = [];
  for (const batch of libraryChunks(size)) {
    const result = mergeBatch(schema, emptySlice(), batch);
    if (result.rejections.length > 0) throw new Error(`generate: ${result.rejections[0].reason}`);
    for (const { offset, op } of batch) {
      if (withFeed) feed.push(JSON.stringify({ offset: offset.toString(), operation: op }));
      const hybrid = BigInt(op.timestamp.hybrid);
      if (hybrid > clock) clock = hybrid;
    }
    operations += batch.length;
    for (const r of result.slice.records.values()) {
      whole?.records.set(r.recordId, r);
      body.push(snapshotRecordLine(r));
    }
    for (const [key, r] of result.slice.relations) {
      whole?.relations.set(key, r);
      relations++;
      body.push(snapshotRelationLine(r));
    }
  }
  await writeLine(out, {
    type: 'snapshot',
    libraryId,
    partition: 0,
    offset: String(operations - 1),
    clock: clock.toString(),
    view: 'full',
  });
  for (const line of body.splice(0)) await writeLine(out, line);
  await writeLine(out, { type: 'end', records: size, relations, pending: 0 });
  await closeFile(out);
  const digest = whole && stateDigest(materializeSlice(schema, whole));
  return {
    libraryId,
    records: size,
    relations,
    operations,
    snapshotPath,
    ...(withFeed ? { feed } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** Answers the three requests a client's initial sync makes, for one library. */
function serve(library: Library, request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const prefix = `/libraries/${library.libraryId}/`;
  const what = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
  if (what === 'snapshot') {
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    createReadStream(library.snapshotPath).pipe(response);
    return;
  }
  if (what === 'operations' && library.feed) {
    const after = url.searchParams.get('after');
    const start = after === null ? 0 : Number(after) + 1;
    const lines = library.feed.slice(start, start + Number(url.searchParams.get('limit')));
    const last = start + lines.length - 1;
    const nextCursor = lines.length > 0 && last < library.feed.length - 1 ? String(last) : null;
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const end = JSON.stringify({ type: 'end', items: lines.length, nextCursor });
    response.end(lines.map((l) => `${l}\n`).join('') + `${end}\n`);
    return;
  }
  if (what === 'digest' && library.digest) {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ ...library.digest, appliedOffset: String(library.operations - 1) }),
    );
    return;
  }
  response.writeHead(404, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: url.pathname } }));
}

interface ClientRun {
  ms: number;
  cpuMs: number;
  peakRssMb: number;
  digest: string;
}

function runClient(mode: 'snapshot' | 'sync', base: string, library: Library): Promise<ClientRun> {
  const argv = [
    ...PROFILE_ARGS,
    join(REPO_DIST, 'bench', 'bootstrap-client.js'),
    mode,
    base,
    library.libraryId,
    String(library.records),
    String(library.relations),
    CLIENT_STORE,
    PULL_PAGE,
  ];
  return new Promise((resolve, reject) => {
    dieWithBench(
      execFile(process.execPath, argv, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`client ${mode} failed: ${stderr || error.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ClientRun);
      }),
    );
  });
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'bench-client-bootstrap-'));
  const rows: string[] = [];
  try {
    for (const size of SIZES) {
      const library = await generate(size, directory);
      const server = createServer((req, res) => serve(library, req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        for (let run = 1; run <= RUNS; run++) {
          for (const mode of library.feed
            ? (['snapshot', 'sync'] as const)
            : (['snapshot'] as const)) {
            const before = load();
            const result = await runClient(mode, base, library);
            if (library.digest && result.digest !== library.digest.digest) {
              throw new Error(
                `${mode} ${size}: digest ${result.digest}, library ${library.digest.digest}`,
              );
            }
            const row =
              `| ${size.toLocaleString('en')} | ${mode} | ${run} | ${(result.ms / 1000).toFixed(2)} s | ` +
              `${(result.cpuMs / 1000).toFixed(2)} s | ` +
              `${Math.round(result.peakRssMb)} MB | ${before} |`;
            console.log(row);
            rows.push(row);
          }
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
        await rm(library.snapshotPath, { force: true });
      }
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  console.log(
    `\n${new Date().toISOString()}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB; store ${CLIENT_STORE}; pull page ${PULL_PAGE}\n`,
  );
  console.log('| records | client | run | time | CPU time | peak RSS | load (1/5/15) before |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
