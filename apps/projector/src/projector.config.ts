import { DEFAULT_CONSUMER_GROUP, type KafkaSettings, readKafkaSettings } from '@sync/kafka';
import { DEFAULT_DATABASE_URL } from '@sync/persistence';
import { EnvReader } from '@sync/platform';
import { type Schema } from '@sync/protocol';
import { loadConfiguredSchema } from '@sync/protocol/node';

export interface ProjectorConfig {
  port: number;
  host: string;
  kafka: KafkaSettings;
  /** Consumer group; every projector of one deployment uses the same one. */
  groupId: string;
  databaseUrl: string;
  /** pg pool size: one connection per partition in flight, plus health checks and metrics. */
  poolSize: number;
  schema: Schema;
  /** Upper bound of one partition's fetch, hence of one batch transaction (bytes). */
  maxBatchBytes: number;
  /** Partitions applied in parallel by one instance. */
  concurrency: number;
  /** Ops merged and written per step inside a batch transaction; heartbeats go between steps. */
  chunkOps: number;
  /** First and maximum wait before retrying after a database or broker failure (ms). */
  retryInitialMs: number;
  retryMaxMs: number;
  sessionTimeoutMs: number;
}

export const DEFAULT_PROJECTOR_PORT = 3003;

/** Reads the projector settings; throws one ConfigError naming every bad variable. */
export function readProjectorConfig(env: NodeJS.ProcessEnv = process.env): ProjectorConfig {
  const reader = new EnvReader(env);
  const port = reader.port('PROJECTOR_PORT', DEFAULT_PROJECTOR_PORT);
  const host = reader.string('PROJECTOR_HOST', '0.0.0.0');
  const kafka = readKafkaSettings(reader, 'sync-projector');
  const groupId = reader.string('PROJECTOR_GROUP', DEFAULT_CONSUMER_GROUP);
  const databaseUrl = reader.url('DATABASE_URL', DEFAULT_DATABASE_URL, [
    'postgres:',
    'postgresql:',
  ]);
  const concurrency = reader.int('PROJECTOR_CONCURRENCY', 4, 1, 256);
  const poolSize = reader.int('PROJECTOR_DB_POOL_SIZE', concurrency + 2, 2, 1000);
  const maxBatchBytes = reader.int('PROJECTOR_MAX_BATCH_BYTES', 8 * 1024 * 1024, 1024, 256 << 20);
  const chunkOps = reader.int('PROJECTOR_CHUNK_OPS', 20_000, 1, 1_000_000);
  const retryInitialMs = reader.int('PROJECTOR_RETRY_INITIAL_MS', 250, 1, 60_000);
  const retryMaxMs = reader.int('PROJECTOR_RETRY_MAX_MS', 15_000, 1, 600_000);
  const sessionTimeoutMs = reader.int('PROJECTOR_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000);

  const schema = reader.parsed('SYNC_SCHEMA', () => loadConfiguredSchema(env));
  if (poolSize < concurrency + 1) {
    reader.problem(
      `PROJECTOR_DB_POOL_SIZE=${poolSize}: needs at least PROJECTOR_CONCURRENCY + 1 (${concurrency + 1})`,
    );
  }
  reader.done('projector');
  return {
    port,
    host,
    kafka,
    groupId,
    databaseUrl,
    poolSize,
    schema: schema!, // done() threw if it was not read
    maxBatchBytes,
    concurrency,
    chunkOps,
    retryInitialMs,
    retryMaxMs: Math.max(retryMaxMs, retryInitialMs),
    sessionTimeoutMs,
  };
}
