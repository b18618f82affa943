import {
  type CompactionResult,
  DEFAULT_DATABASE_URL,
  type NodeProgress,
  RetentionRepository,
  createPgPool,
} from '@sync/persistence';
import { normalizeUuid } from '@sync/protocol';
import { UsageError } from './cli-http';

/*
 * `compact`: op-log retention (docs/RETENTION.md). It talks to Postgres directly (DATABASE_URL),
 * like `npm run migrate`: compaction is operator maintenance on the projection's tables, a long
 * batched job rather than a request, and this way the query service needs no write-capable admin
 * route. It is safe to run while the projector and the query service run.
 */

export const COMPACT_USAGE = `  compact [libraryId|--all]      Op-log retention: drop superseded ops below a horizon from the
                                 feed (docs/RETENTION.md). Talks to Postgres directly through
                                 $DATABASE_URL (default ${DEFAULT_DATABASE_URL}).
                                 Horizon: one past the lowest position the library's active
                                 nodes reported (GET .../operations?node=), or --before
      --all                      Every library
      --before <offset>          Drop superseded ops below this offset (nodes behind it get
                                 410 SNAPSHOT_REQUIRED and re-bootstrap from the snapshot)
      --idle-days <n>            Nodes silent this long do not hold the horizon back (default 30)
      --dry-run                  Count what would go; change nothing
      --json                     Print the summary as JSON`;

export const COMPACT_OPTIONS = {
  all: { type: 'boolean' },
  before: { type: 'string' },
  'idle-days': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

export interface CompactValues {
  all?: boolean;
  before?: string;
  'idle-days'?: string;
  'dry-run'?: boolean;
  json?: boolean;
}

export interface CompactIo {
  out: (text: string) => void;
  progress: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_IDLE_DAYS = 30;
const DAY_MS = 86_400_000;

interface LibrarySummary extends CompactionResult {
  previousHorizon: bigint;
  feedBefore: bigint;
  /** Nodes that decided the horizon (absent with --before). */
  nodes?: NodeProgress[];
}

export async function compact(args: string[], values: CompactValues, io: CompactIo): Promise<void> {
  const libraryId = args[0] === undefined ? undefined : normalizeUuid(args[0]);
  if (libraryId === null) {
    throw new UsageError(`libraryId must be a UUID, got ${JSON.stringify(args[0])}`);
  }
  if ((libraryId === undefined) === !values.all) {
    throw new UsageError('compact needs a <libraryId> or --all (not both)');
  }
  const before = offsetOption(values.before);
  const idleDays = idleDaysOption(values['idle-days']);
  const dryRun = values['dry-run'] === true;
  const pool = createPgPool({
    url: io.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    poolSize: 2,
    applicationName: 'sync-cli-compact',
    onIdleError: () => undefined,
  });
  try {
    const retention = new RetentionRepository(pool);
    const libraries =
      libraryId === undefined
        ? await retention.libraries()
        : [await retention.library(libraryId)].filter((l) => l !== undefined);
    if (libraries.length === 0) {
      io.out(libraryId === undefined ? 'no libraries\n' : `library ${libraryId} has no ops\n`);
      return;
    }
    const summaries: LibrarySummary[] = [];
    for (const library of libraries) {
      const decided =
        before === undefined
          ? await retention.safeHorizon(library, idleDays * DAY_MS)
          : { horizon: before, nodes: undefined };
      const result = await retention.compact(library.libraryId, {
        horizon: decided.horizon,
        dryRun,
        onProgress: (p) =>
          io.progress(
            `compact ${p.libraryId}: ${p.scanned} ops scanned, ${p.superseded} superseded` +
              `${dryRun ? '' : `, ${p.removed} removed`}, at offset ${p.offset ?? '-'}`,
          ),
      });
      summaries.push({
        ...result,
        previousHorizon: library.compactedBefore,
        feedBefore: library.operations,
        ...(decided.nodes === undefined ? {} : { nodes: decided.nodes }),
      });
    }
    io.out(values.json ? `${JSON.stringify(summaries.map(toJson), null, 2)}\n` : table(summaries));
  } finally {
    await pool.end();
  }
}

function table(summaries: LibrarySummary[]): string {
  const lines: string[] = [];
  for (const s of summaries) {
    const verb = s.dryRun ? 'would remove' : 'removed';
    const count = s.dryRun ? s.superseded : s.removed;
    lines.push(
      `library ${s.libraryId}: horizon ${s.horizon} (was ${s.previousHorizon}); ${verb} ` +
        `${count} of ${s.scanned} ops scanned; feed ${s.feedBefore} -> ` +
        `${s.feedBefore - BigInt(count)} ops`,
    );
    for (const n of s.nodes ?? []) {
      const position = n.pulledThrough === null ? 'never pulled' : `through ${n.pulledThrough}`;
      const role = n.idle ? 'idle, ignored (will re-bootstrap)' : 'active';
      lines.push(
        `  node ${n.node}: ${position}, last active ${n.lastActive.toISOString()}, ${role}`,
      );
    }
  }
  const total = summaries.reduce((sum, s) => sum + (s.dryRun ? s.superseded : s.removed), 0);
  lines.push(
    `${summaries.length} ${summaries.length === 1 ? 'library' : 'libraries'}, ` +
      `${total} ops ${summaries[0]?.dryRun ? 'would be removed (dry run)' : 'removed'}`,
  );
  return `${lines.join('\n')}\n`;
}

function toJson(s: LibrarySummary) {
  return {
    libraryId: s.libraryId,
    dryRun: s.dryRun,
    horizon: s.horizon.toString(),
    previousHorizon: s.previousHorizon.toString(),
    scanned: s.scanned,
    superseded: s.superseded,
    removed: s.removed,
    feedBefore: s.feedBefore.toString(),
    ...(s.nodes === undefined
      ? {}
      : {
          nodes: s.nodes.map((n) => ({
            node: n.node,
            pulledThrough: n.pulledThrough === null ? null : n.pulledThrough.toString(),
            lastActive: n.lastActive.toISOString(),
            idle: n.idle,
          })),
        }),
  };
}

function offsetOption(raw: string | undefined): bigint | undefined {
  if (raw === undefined) return undefined;
  if (!/^(0|[1-9]\d{0,18})$/.test(raw)) {
    throw new UsageError(
      `--before must be a log offset (decimal integer), got ${JSON.stringify(raw)}`,
    );
  }
  return BigInt(raw);
}

function idleDaysOption(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_IDLE_DAYS;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 0 && value <= 36500)) {
    throw new UsageError(
      `--idle-days must be a number from 0 to 36500, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
