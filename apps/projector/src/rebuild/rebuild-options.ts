import { parseArgs } from 'node:util';
import { DEFAULT_REBUILD_OPTIONS, type RebuildOptions } from './projection-rebuild.service';

export const REBUILD_USAGE = `Usage: rebuild [options]

Rebuilds the projection tables from the ops topic while the live ones keep serving: replays the
topic from its start into new tables in a schema of their own (sync_rebuild_<time>), then, once
they are within --max-lag of the live projection, locks the live tables for a moment, brings the
new ones to exactly the live position and swaps them in, in one transaction. The previous tables
stay in schema sync_retired_<time> for inspection unless --drop-old is given. On any failure
before the switch the new tables are dropped and the live ones are left untouched.

Progress (ops done/total, ops/s, ETA, distance to the live projection) goes to stderr every
second; the result goes to stdout as one JSON line.

Options:
  --dry-run, --no-switch   Build the new tables, compare them with the live ones table by table
                           (rows, and rows only on one side, timestamps left out), then drop
                           them. The live projector waits during the comparison; readers do not.
  --drop-old               Drop the previous tables once the switch has committed
  --max-lag <n>            Switch when this many offsets or fewer behind live (default ${DEFAULT_REBUILD_OPTIONS.maxLag})
  --lock-timeout <ms>      Longest wait for the lock on the live tables (default ${DEFAULT_REBUILD_OPTIONS.lockTimeoutMs})
  --catch-up-timeout <ms>  Longest the live tables stay locked while the new ones catch up
                           (default ${DEFAULT_REBUILD_OPTIONS.catchUpTimeoutMs})
  --attempts <n>           Switch attempts before giving up (default ${DEFAULT_REBUILD_OPTIONS.attempts})
  --from-topic <topic>     After \`cli repartition\`: the live tables follow <topic>, the new ones
                           SYNC_TOPIC (the copy). Needs the projectors of <topic> stopped; the
                           switch marks <topic> replaced, so no service starts on it again
                           (docs/SCALING.md, Partition growth)
  -h, --help

Environment: the projector's (DATABASE_URL, KAFKA_BROKERS and KAFKA_* security, SYNC_TOPIC,
SYNC_SCHEMA, PROJECTOR_GROUP, PROJECTOR_CONCURRENCY, PROJECTOR_CHUNK_OPS,
PROJECTOR_MAX_BATCH_BYTES). SYNC_SCHEMA must be the schema the projection should follow.

Exit codes: 0 switched (or dry run compared), 1 failed (live tables untouched), 2 usage or
configuration error, 130 interrupted before the switch (live tables untouched).`;

export class RebuildUsageError extends Error {}

export type ParsedRebuildArgs = { help: true } | { help: false; options: RebuildOptions };

export function parseRebuildArgs(argv: readonly string[]): ParsedRebuildArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        'dry-run': { type: 'boolean' },
        'no-switch': { type: 'boolean' },
        'drop-old': { type: 'boolean' },
        'max-lag': { type: 'string' },
        'lock-timeout': { type: 'string' },
        'catch-up-timeout': { type: 'string' },
        attempts: { type: 'string' },
        'from-topic': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new RebuildUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { help: true };
  const dryRun = values['dry-run'] === true || values['no-switch'] === true;
  if (dryRun && values['drop-old'] === true) {
    throw new RebuildUsageError('--drop-old has nothing to drop in a dry run');
  }
  const fromTopic = values['from-topic'];
  if (typeof fromTopic === 'string' && (dryRun || fromTopic === '')) {
    throw new RebuildUsageError(
      '--from-topic needs a topic name and a switch: a dry run would compare tables of two topics',
    );
  }
  const defaults = DEFAULT_REBUILD_OPTIONS;
  return {
    help: false,
    options: {
      dryRun,
      dropOld: values['drop-old'] === true,
      maxLag: integer(values['max-lag'], '--max-lag', defaults.maxLag, 0, 10_000_000),
      lockTimeoutMs: integer(
        values['lock-timeout'],
        '--lock-timeout',
        defaults.lockTimeoutMs,
        1,
        600_000,
      ),
      catchUpTimeoutMs: integer(
        values['catch-up-timeout'],
        '--catch-up-timeout',
        defaults.catchUpTimeoutMs,
        1,
        600_000,
      ),
      attempts: integer(values.attempts, '--attempts', defaults.attempts, 1, 1000),
      ...(typeof fromTopic === 'string' ? { fromTopic } : {}),
    },
  };
}

function integer(
  raw: string | boolean | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || typeof raw === 'boolean') return fallback;
  if (!/^\d+$/.test(raw)) throw new RebuildUsageError(`${name} must be a whole number, got ${raw}`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new RebuildUsageError(`${name} must be between ${min} and ${max}, got ${raw}`);
  }
  return value;
}
