import { TopicAdmin, kafkaClientConfig, logLevel, readKafkaSettings } from '@sync/kafka';
import { EnvReader } from '@sync/platform';
import { type Io, libraryArg } from './cli-args';
import type { SyncHttp } from './cli-http';

export const STATUS_USAGE = `  status [libraryId]             Libraries with counts (records, relations, pending, rejected),
                                 applied offset and, when KAFKA_BROKERS is set, consumer lag
      --json                     Print JSON instead of a table`;

export const STATUS_OPTIONS = {
  json: { type: 'boolean' },
} as const;

export interface StatusValues {
  json?: boolean;
}

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

/** `status`: libraries with counts, applied offset and, with KAFKA_BROKERS, consumer lag. */
export async function status(
  http: SyncHttp,
  args: string[],
  values: StatusValues,
  io: Io,
): Promise<void> {
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
