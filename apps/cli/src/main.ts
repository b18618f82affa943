import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  OperationProducer,
  TopicAdmin,
  kafkaClientConfig,
  logLevel,
  readKafkaSettings,
} from '@sync/kafka';
import { EnvReader } from '@sync/platform';
import { type Operation, normalizeUuid, validateOperation } from '@sync/protocol';
import { CliError, SyncHttp, UsageError } from './cli-http';
import { COMPACT_OPTIONS, COMPACT_USAGE, compact } from './compact.command';
import { DEFAULT_DEMO, type DemoOptions, demoOperations } from './demo-library';
import { rebuildCommand } from './rebuild.command';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  produce <libraryId> [file|-]   Send ops from a JSON array or NDJSON file (or stdin) in
                                 batches, through the ingest service, or with --kafka straight
                                 to the topic. Prints {"accepted","lastOffset"} at the end.
      --kafka                    Produce to Kafka (KAFKA_BROKERS, SYNC_TOPIC, SASL/SSL env vars)
      --batch <n>                Ops per batch (1..10000, default 1000)
  tail <libraryId>               Print the library's feed as NDJSON ({"offset","operation"})
      --after <offset>           Start after this offset (default: from the start)
      --follow, -f               Keep waiting for new ops (long polls, no busy loop)
  status [libraryId]             Libraries with counts (records, relations, pending, rejected),
                                 applied offset and, when KAFKA_BROKERS is set, consumer lag
      --json                     Print JSON instead of a table
  seed-demo [libraryId]          Create a demo library (devices with Locations, FilePaths,
                                 Objects, Tags, Albums, links) through the ingest, 1000 ops per
                                 batch, with progress; waits until it is applied
      --files <n> --objects <n> --tags <n> --albums <n> --nodes <n> --seed <n>
  rebuild [options]              Rebuild the projection from the topic into new tables while the
                                 live ones serve, then switch atomically (runs the projector's
                                 rebuild with this environment; rebuild --help for options)
${COMPACT_USAGE}

Options (every command):
  --ingest-url <url>   default $SYNC_INGEST_URL or http://127.0.0.1:3001
  --query-url <url>    default $SYNC_QUERY_URL or http://127.0.0.1:3002
  --api-key <key>      default $SYNC_API_KEY (sent as Authorization: Bearer)
  -h, --help

Exit codes: 0 ok, 1 failure, 2 usage error.`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress line: rewritten in place on a terminal, one line per update otherwise. */
  progress: (text: string) => void;
  stdin: () => string;
  env: NodeJS.ProcessEnv;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'ingest-url': { type: 'string' },
  'query-url': { type: 'string' },
  'api-key': { type: 'string' },
  kafka: { type: 'boolean' },
  batch: { type: 'string' },
  after: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  json: { type: 'boolean' },
  files: { type: 'string' },
  objects: { type: 'string' },
  tags: { type: 'string' },
  albums: { type: 'string' },
  nodes: { type: 'string' },
  seed: { type: 'string' },
  ...COMPACT_OPTIONS,
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function run(argv: string[], io: Io): Promise<number> {
  // Its options are the projector's: passed through unparsed.
  if (argv[0] === 'rebuild') return rebuildCommand(argv.slice(1), io);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? io.err : io.out)(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  const http = new SyncHttp({
    ingestUrl: trimSlash(values['ingest-url'] ?? io.env.SYNC_INGEST_URL ?? 'http://127.0.0.1:3001'),
    queryUrl: trimSlash(values['query-url'] ?? io.env.SYNC_QUERY_URL ?? 'http://127.0.0.1:3002'),
    apiKey: values['api-key'] ?? io.env.SYNC_API_KEY,
  });
  try {
    switch (command) {
      case 'produce':
        await produce(http, args, values, io);
        break;
      case 'tail':
        await tail(http, args, values, io);
        break;
      case 'status':
        await status(http, args, values, io);
        break;
      case 'seed-demo':
        await seedDemo(http, args, values, io);
        break;
      case 'compact':
        await compact(args, values, io);
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    io.err(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

function libraryArg(args: string[], required: true): string;
function libraryArg(args: string[], required: false): string | undefined;
function libraryArg(args: string[], required: boolean): string | undefined {
  if (args[0] === undefined) {
    if (required) throw new UsageError('missing <libraryId>');
    return undefined;
  }
  const id = normalizeUuid(args[0]);
  if (id === null) throw new UsageError(`libraryId must be a UUID, got ${JSON.stringify(args[0])}`);
  return id;
}

function intOption(
  raw: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

// ---- produce --------------------------------------------------------------------------------

/** A JSON array, or NDJSON (one op per line); blank lines ignored. */
export function parseOperations(text: string, source: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.length === 0) return [];
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed;
    } catch (error) {
      throw new CliError(`${source}: not valid JSON: ${(error as Error).message}`);
    }
  }
  return trimmed.split('\n').flatMap((line, index) => {
    if (line.trim().length === 0) return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (error) {
      throw new CliError(
        `${source} line ${index + 1}: not valid JSON: ${(error as Error).message}`,
      );
    }
  });
}

async function produce(http: SyncHttp, args: string[], values: Values, io: Io): Promise<void> {
  const libraryId = libraryArg(args, true);
  const file = args[1] ?? '-';
  const batchSize = intOption(values.batch, 'batch', 1000, 1, 10000);
  let text: string;
  try {
    text = file === '-' ? io.stdin() : readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const ops = parseOperations(text, file === '-' ? 'stdin' : file);
  if (ops.length === 0) throw new CliError(`${file}: no operations`);
  let sent = 0;
  let lastOffset = '';
  let partition = -1;
  const report = () => io.progress(`produce: ${sent}/${ops.length} ops`);
  if (values.kafka) {
    // The same shape check the ingest does, so nothing malformed reaches the topic from here.
    ops.forEach((op, index) => {
      const checked = validateOperation(op, null, { checkSchema: false });
      if (!checked.ok) {
        const why = checked.errors.map((e) => `${e.path || '(op)'} ${e.message}`).join('; ');
        throw new CliError(`op ${index} is not a valid operation: ${why}`);
      }
    });
    const reader = new EnvReader(io.env);
    const settings = readKafkaSettings(reader, 'sync-cli');
    reader.done('cli');
    const producer = new OperationProducer({
      client: kafkaClientConfig(settings),
      topic: settings.operationsTopic,
    });
    try {
      for (let start = 0; start < ops.length; start += batchSize) {
        const batch = ops.slice(start, start + batchSize) as Operation[];
        const result = await producer.publish(libraryId, batch);
        sent += batch.length;
        lastOffset = result.lastOffset;
        partition = result.partition;
        report();
      }
    } finally {
      await producer.close();
    }
  } else {
    for (let start = 0; start < ops.length; start += batchSize) {
      const batch = ops.slice(start, start + batchSize);
      const result = await http.postOperations(libraryId, batch);
      sent += result.accepted;
      lastOffset = result.lastOffset;
      partition = result.partition;
      report();
    }
  }
  io.out(`${JSON.stringify({ accepted: sent, partition, lastOffset })}\n`);
}

// ---- tail -----------------------------------------------------------------------------------

interface FeedPage {
  items: { offset: string; operation: unknown }[];
  nextCursor: string | null;
}

async function tail(http: SyncHttp, args: string[], values: Values, io: Io): Promise<void> {
  const libraryId = libraryArg(args, true);
  let after = values.after ?? '-1';
  if (!/^(-1|0|[1-9]\d{0,18})$/.test(after))
    throw new UsageError(`--after must be an offset, got ${after}`);
  // Ctrl-C ends a follow at once, also in the middle of a long poll.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  const feed = http.withSignal(interrupt.signal);
  try {
    for (;;) {
      const page = await feed.getQuery<FeedPage>(
        `/libraries/${libraryId}/operations?limit=1000&after=${after}`,
      );
      for (const entry of page.items) io.out(`${JSON.stringify(entry)}\n`);
      if (page.items.length > 0) after = page.items[page.items.length - 1].offset;
      if (page.nextCursor !== null) continue;
      if (!values.follow) return;
      // Long poll: wait until the partition is applied past what we have read, then read again.
      const state = await feed.getQuery<{ appliedOffset: string | null }>(
        `/libraries/${libraryId}/status`,
      );
      const applied = state.appliedOffset === null ? -1n : BigInt(state.appliedOffset);
      const next = (applied > BigInt(after) ? applied : BigInt(after)) + 1n;
      await feed.getQueryOrNotYet(`/libraries/${libraryId}/status?minOffset=${next}&waitMs=25000`);
    }
  } catch (error) {
    if (interrupt.signal.aborted) return;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

// ---- status ---------------------------------------------------------------------------------

interface LibrarySummary {
  id: string;
  partition: number;
  operations: number;
  records: number;
  relations: number;
  pending: number;
  rejected: number;
}

interface StatusRow extends LibrarySummary {
  appliedOffset: string | null;
  /** Ops in the library's partition not applied yet (needs KAFKA_BROKERS). */
  lag: string | null;
}

async function partitionEnds(env: NodeJS.ProcessEnv): Promise<Map<number, bigint> | undefined> {
  if (!env.KAFKA_BROKERS) return undefined;
  const reader = new EnvReader(env);
  const settings = readKafkaSettings(reader, 'sync-cli');
  reader.done('cli');
  const admin = new TopicAdmin({
    ...kafkaClientConfig(settings),
    logLevel: logLevel.NOTHING,
    retry: { retries: 1 },
  });
  try {
    const offsets = await admin.partitionOffsets(settings.operationsTopic);
    return new Map(offsets.map((o) => [o.partition, o.high]));
  } finally {
    await admin.close();
  }
}

async function status(http: SyncHttp, args: string[], values: Values, io: Io): Promise<void> {
  const only = libraryArg(args, false);
  const libraries: LibrarySummary[] = [];
  if (only !== undefined) {
    const s = await http.getQuery<Omit<LibrarySummary, 'id' | 'operations'>>(
      `/libraries/${only}/status`,
    );
    libraries.push({ id: only, operations: NaN, ...s });
  } else {
    let cursor: string | null = null;
    do {
      const page: { items: LibrarySummary[]; nextCursor: string | null } = await http.getQuery(
        `/libraries?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      libraries.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
  let ends: Map<number, bigint> | undefined;
  try {
    ends = await partitionEnds(io.env);
  } catch (error) {
    io.err(`warning: no lag (Kafka: ${(error as Error).message})\n`);
  }
  const applied = new Map<number, string | null>();
  const rows: StatusRow[] = [];
  for (const library of libraries) {
    if (!applied.has(library.partition)) {
      const s = await http.getQuery<{ appliedOffset: string | null }>(
        `/libraries/${library.id}/status`,
      );
      applied.set(library.partition, s.appliedOffset);
    }
    const appliedOffset = applied.get(library.partition) ?? null;
    const end = ends?.get(library.partition);
    const lag =
      end === undefined
        ? null
        : (end - (appliedOffset === null ? 0n : BigInt(appliedOffset) + 1n)).toString();
    rows.push({ ...library, appliedOffset, lag });
  }
  if (values.json) {
    io.out(
      `${JSON.stringify(
        rows.map((r) => ({ ...r, operations: Number.isNaN(r.operations) ? null : r.operations })),
        null,
        2,
      )}\n`,
    );
    return;
  }
  const header = [
    'library',
    'part',
    'applied',
    'lag',
    'ops',
    'records',
    'relations',
    'pending',
    'rejected',
  ];
  const table = rows.map((r) => [
    r.id,
    String(r.partition),
    r.appliedOffset ?? '-',
    r.lag ?? '?',
    Number.isNaN(r.operations) ? '-' : String(r.operations),
    String(r.records),
    String(r.relations),
    String(r.pending),
    String(r.rejected),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  io.out(`${[line(header), ...table.map(line)].join('\n')}\n`);
  if (rows.length === 0) io.out('(no libraries yet)\n');
}

// ---- seed-demo ------------------------------------------------------------------------------

async function seedDemo(http: SyncHttp, args: string[], values: Values, io: Io): Promise<void> {
  const libraryId = libraryArg(args, false) ?? randomUUID();
  const options: DemoOptions = {
    files: intOption(values.files, 'files', DEFAULT_DEMO.files, 0, 10_000_000),
    objects: intOption(values.objects, 'objects', DEFAULT_DEMO.objects, 0, 10_000_000),
    tags: intOption(values.tags, 'tags', DEFAULT_DEMO.tags, 0, 100_000),
    albums: intOption(values.albums, 'albums', DEFAULT_DEMO.albums, 0, 100_000),
    nodes: intOption(values.nodes, 'nodes', DEFAULT_DEMO.nodes, 1, 100),
    seed: intOption(values.seed, 'seed', DEFAULT_DEMO.seed, 0, 2 ** 31),
  };
  io.progress(`seed-demo: library ${libraryId}`);
  const started = Date.now();
  let batch: unknown[] = [];
  let sent = 0;
  let lastOffset = '-1';
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await http.postOperations(libraryId, batch);
    sent += result.accepted;
    lastOffset = result.lastOffset;
    batch = [];
    const rate = Math.round(sent / Math.max(0.001, (Date.now() - started) / 1000));
    io.progress(`seed-demo: ${sent} ops sent (${rate} ops/s)`);
  };
  for (const op of demoOperations(options)) {
    batch.push(op);
    if (batch.length === 1000) await flush();
  }
  await flush();
  io.progress(`seed-demo: waiting until offset ${lastOffset} is applied`);
  let counts: { records: number; relations: number; pending: number; rejected: number } | null =
    null;
  for (let attempt = 0; counts === null && attempt < 12; attempt++) {
    counts = await http.getQueryOrNotYet(
      `/libraries/${libraryId}/status?minOffset=${lastOffset}&waitMs=10000`,
    );
  }
  if (counts === null)
    throw new CliError(
      `sent ${sent} ops, but offset ${lastOffset} was not applied within 2 minutes`,
    );
  io.out(
    `${JSON.stringify({ libraryId, operations: sent, lastOffset, records: counts.records, relations: counts.relations, pending: counts.pending, rejected: counts.rejected, seconds: (Date.now() - started) / 1000 })}\n`,
  );
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export function processIo(): Io {
  const tty = process.stderr.isTTY === true;
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    progress: (text) => process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`),
    stdin: () => readFileSync(0, 'utf8'),
    env: process.env,
  };
}

if (require.main === module) {
  const io = processIo();
  run(process.argv.slice(2), io)
    .then((code) => {
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
