import {
  DEFAULT_COPY_BATCH_BYTES,
  TopicCopier,
  type TopicCopyProgress,
  kafkaClientConfig,
  logLevel,
  readKafkaSettings,
} from '@sync/kafka';
import { DEFAULT_DATABASE_URL, TopicPartitionsRepository, createPgPool } from '@sync/persistence';
import { EnvReader } from '@sync/platform';
import { intOption } from './cli-args';
import { CliError, UsageError } from './cli-http';

/*
 * `repartition`: the one safe way to another partition count (docs/SCALING.md, Partition
 * growth). A library's partition is murmur2(key) mod the count, so partitions are never added
 * to the live topic; the ops are copied into a new topic instead, then the projection is rebuilt
 * from it and the services switch over. Talks to Kafka (KAFKA_*, SYNC_TOPIC) and Postgres
 * (DATABASE_URL) directly, like `compact`.
 */

export const REPARTITION_USAGE = `  repartition --to <n>           Copy every op of $SYNC_TOPIC into a new topic with n partitions,
                                 in per-library log order, exactly once; resumable (run it
                                 again after an interruption, or after stopping ingest to copy
                                 what arrived since). Then rebuild onto it and switch the
                                 services (docs/SCALING.md, Partition growth).
      --to <n>                   Partition count of the new topic (1 to 10000)
      --target <topic>           The new topic (default <SYNC_TOPIC>.p<n>)
      --batch-bytes <n>          Bytes read per source partition and copied per transaction
                                 (default ${DEFAULT_COPY_BATCH_BYTES})`;

export const REPARTITION_OPTIONS = {
  to: { type: 'string' },
  target: { type: 'string' },
  'batch-bytes': { type: 'string' },
} as const;

export interface RepartitionValues {
  to?: string;
  target?: string;
  'batch-bytes'?: string;
  json?: boolean;
}

export interface RepartitionIo {
  out: (text: string) => void;
  progress: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const PROGRESS_INTERVAL_MS = 1000;

export async function repartition(
  args: string[],
  values: RepartitionValues,
  io: RepartitionIo,
): Promise<void> {
  if (args.length > 0) throw new UsageError(`repartition takes no arguments, got ${args[0]}`);
  if (values.to === undefined) throw new UsageError('repartition needs --to <partitions>');
  const partitions = intOption(values.to, 'to', 0, 1, 10_000);
  const batchBytes = intOption(
    values['batch-bytes'],
    'batch-bytes',
    DEFAULT_COPY_BATCH_BYTES,
    1024,
    256 * 1024 * 1024,
  );
  const reader = new EnvReader(io.env);
  const settings = readKafkaSettings(reader, 'sync-cli-repartition');
  const databaseUrl = reader.url('DATABASE_URL', DEFAULT_DATABASE_URL, [
    'postgres:',
    'postgresql:',
  ]);
  reader.done('cli');
  const source = settings.operationsTopic;
  const target = values.target ?? `${source}.p${partitions}`;
  if (target === source) throw new UsageError('--target must differ from SYNC_TOPIC');

  const pool = createPgPool({
    url: databaseUrl,
    poolSize: 1,
    applicationName: 'sync-cli-repartition',
    onIdleError: () => undefined,
  });
  const copier = new TopicCopier(
    { ...kafkaClientConfig(settings), logLevel: logLevel.ERROR },
    { source, target, partitions, batchBytes },
  );
  try {
    // The services on the new topic check its count against this record.
    const recorded = await new TopicPartitionsRepository(pool).recordFirst(target, partitions);
    if (recorded.partitions !== partitions || recorded.replacedBy !== null) {
      throw new CliError(
        `topic ${target} is recorded with ${recorded.partitions} partitions in this database` +
          `${recorded.replacedBy === null ? '' : `, replaced by ${recorded.replacedBy}`}: ` +
          `choose another --target`,
      );
    }
    const created = await copier.ensureTarget();
    io.progress(
      `repartition: ${source} -> ${target} (${partitions} partitions, ` +
        `${created ? 'created' : 'exists'}); progress kept in consumer group ${copier.groupId}`,
    );
    const began = Date.now();
    let shown = 0;
    const result = await copier.copy((progress) => {
      if (Date.now() - shown < PROGRESS_INTERVAL_MS) return;
      shown = Date.now();
      io.progress(progressLine(progress, began));
    });
    io.progress(progressLine(result, began));
    io.out(
      values.json
        ? `${JSON.stringify(toJson(source, target, result))}\n`
        : summary(source, target, result),
    );
  } finally {
    await pool.end();
  }
}

function progressLine(progress: TopicCopyProgress, began: number): string {
  const seconds = Math.max((Date.now() - began) / 1000, 0.001);
  const parts = progress.partitions.map((p) => `p${p.partition} ${p.position}/${p.goal}`).join(' ');
  return (
    `repartition: ${progress.copied} offsets copied this run, ${progress.remaining} to go ` +
    `(${Math.round(Number(progress.copied) / seconds)}/s); ${parts}`
  );
}

function summary(source: string, target: string, result: TopicCopyProgress): string {
  return (
    `complete: ${source} is copied into ${target} up to the end it had at the start ` +
    `(${result.copied} offsets this run).\n` +
    `Next (docs/SCALING.md, Partition growth): stop ingest and run this again until it copies ` +
    `nothing more; stop the projectors; SYNC_TOPIC=${target} npm run rebuild -- ` +
    `--from-topic ${source}; start ingest, projectors and query with SYNC_TOPIC=${target}.\n`
  );
}

function toJson(source: string, target: string, result: TopicCopyProgress) {
  return {
    source,
    target,
    copied: result.copied.toString(),
    remaining: result.remaining.toString(),
    partitions: result.partitions.map((p) => ({
      partition: p.partition,
      position: p.position.toString(),
      end: p.goal.toString(),
    })),
  };
}
