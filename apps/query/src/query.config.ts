import { join } from 'node:path';
import { type KafkaSettings, readKafkaSettings } from '@sync/kafka';
import { DEFAULT_DATABASE_URL } from '@sync/persistence';
import {
  type AuthSettings,
  type CorsSettings,
  EnvReader,
  readAuthSettings,
  readCorsSettings,
  withAuthFlag,
} from '@sync/platform';
import { type Schema } from '@sync/protocol';
import { loadConfiguredSchema } from '@sync/protocol/node';

export interface QueryConfig {
  port: number;
  host: string;
  /** Where reads go (QUERY_DATABASE_URL): the projector's database or one streaming standby of it. */
  databaseUrl: string;
  /** The projector's database (DATABASE_URL): writes (API keys) and the primary's side of replica lag. */
  primaryDatabaseUrl: string;
  /** pg pool size for reads (the offset watcher holds one more, dedicated connection). */
  poolSize: number;
  /** Bounds under overload: beyond them 503 SERVER_BUSY at once instead of a longer queue. */
  overload: QueryOverloadSettings;
  /** Only `operationsTopic` and the connection settings are used: to filter notifications and to read the partition count. */
  kafka: KafkaSettings;
  /**
   * Partition count of the ops topic, used to place a library the projector has not seen yet.
   * Undefined: read from Kafka topic metadata (cached for `partitionCountTtlMs`).
   */
  topicPartitions?: number;
  partitionCountTtlMs: number;
  schema: Schema;
  /** Safety net of the read-your-writes watcher: re-read applied offsets this often while requests wait. */
  offsetRecheckMs: number;
  /**
   * On a standby (no LISTEN/NOTIFY there): read the replayed offsets this often while requests
   * wait or change streams follow.
   */
  standbyPollMs: number;
  /** API keys (off only with SYNC_AUTH_DISABLED=true); this service also serves /admin/keys. */
  auth: AuthSettings;
  /** Where GET /pipeline asks the other two services for their readiness. */
  ingestUrl: string;
  projectorUrl: string;
  /** Built inspector assets (npm run build), served at /inspector/. */
  inspectorDir: string;
  /** Browser origins allowed to call the service (SYNC_CORS_ORIGINS). */
  cors: CorsSettings;
}

export interface QueryOverloadSettings {
  /** Statements queued for a pool connection, at most. */
  maxDbQueue: number;
  /** Longest wait for a pool connection (queued, or opening one). */
  dbQueueTimeoutMs: number;
  /** Postgres statement_timeout of the read pool. */
  statementTimeoutMs: number;
  /** Requests waiting for their minOffset, at most. */
  maxOffsetWaiters: number;
}

export const DEFAULT_QUERY_PORT = 3002;
export const DEFAULT_QUERY_OVERLOAD: QueryOverloadSettings = {
  maxDbQueue: 200,
  dbQueueTimeoutMs: 2000,
  statementTimeoutMs: 10_000,
  maxOffsetWaiters: 100,
};

/** Reads the query service settings; throws one ConfigError naming every bad variable. */
export function readQueryConfig(env: NodeJS.ProcessEnv = process.env): QueryConfig {
  const reader = new EnvReader(withAuthFlag(env));
  const auth = readAuthSettings(reader);
  const port = reader.port('QUERY_PORT', DEFAULT_QUERY_PORT);
  const host = reader.string('QUERY_HOST', '0.0.0.0');
  const primaryDatabaseUrl = reader.url('DATABASE_URL', DEFAULT_DATABASE_URL, [
    'postgres:',
    'postgresql:',
  ]);
  const databaseUrl = reader.url('QUERY_DATABASE_URL', primaryDatabaseUrl, [
    'postgres:',
    'postgresql:',
  ]);
  const poolSize = reader.int('QUERY_DB_POOL_SIZE', 10, 1, 1000);
  const d = DEFAULT_QUERY_OVERLOAD;
  const overload: QueryOverloadSettings = {
    maxDbQueue: reader.int('QUERY_DB_MAX_QUEUE', d.maxDbQueue, 0, 1_000_000),
    dbQueueTimeoutMs: reader.int('QUERY_DB_QUEUE_TIMEOUT_MS', d.dbQueueTimeoutMs, 100, 60_000),
    statementTimeoutMs: reader.int(
      'QUERY_STATEMENT_TIMEOUT_MS',
      d.statementTimeoutMs,
      100,
      600_000,
    ),
    maxOffsetWaiters: reader.int('QUERY_MAX_OFFSET_WAITERS', d.maxOffsetWaiters, 1, 1_000_000),
  };
  const kafka = readKafkaSettings(reader, 'sync-query');
  const partitions = reader.int('SYNC_TOPIC_PARTITIONS', 0, 0, 1_000_000);
  const partitionCountTtlMs = reader.int('QUERY_PARTITION_COUNT_TTL_MS', 300_000, 1000);
  const offsetRecheckMs = reader.int('QUERY_OFFSET_RECHECK_MS', 1000, 50, 60_000);
  const standbyPollMs = reader.int('QUERY_STANDBY_POLL_MS', 10, 1, 10_000);
  const ingestUrl = reader.url('QUERY_INGEST_URL', 'http://127.0.0.1:3001', ['http:', 'https:']);
  const projectorUrl = reader.url('QUERY_PROJECTOR_URL', 'http://127.0.0.1:3003', [
    'http:',
    'https:',
  ]);
  // Beside the compiled service: dist/apps/query/src -> dist/apps/inspector.
  const inspectorDir = reader.string('QUERY_INSPECTOR_DIR', join(__dirname, '../../inspector'));

  const cors = readCorsSettings(reader);
  const schema = reader.parsed('SYNC_SCHEMA', () => loadConfiguredSchema(env));
  // One notification can wake every waiter of a partition at once: their reads must fit the
  // pool and its queue, or requests that already waited would be refused.
  if (overload.maxOffsetWaiters > poolSize + overload.maxDbQueue) {
    reader.problem(
      `QUERY_MAX_OFFSET_WAITERS (${overload.maxOffsetWaiters}) must be at most QUERY_DB_POOL_SIZE + QUERY_DB_MAX_QUEUE (${poolSize + overload.maxDbQueue})`,
    );
  }
  reader.done('query');
  return {
    port,
    host,
    databaseUrl,
    primaryDatabaseUrl,
    poolSize,
    overload,
    kafka,
    topicPartitions: partitions === 0 ? undefined : partitions,
    partitionCountTtlMs,
    schema: schema!, // done() threw if it was not read
    offsetRecheckMs,
    standbyPollMs,
    auth,
    ingestUrl,
    projectorUrl,
    inspectorDir,
    cors,
  };
}
