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
import { type Schema, loadConfiguredSchema } from '@sync/protocol';

export interface QueryConfig {
  port: number;
  host: string;
  databaseUrl: string;
  /** pg pool size for reads (the offset watcher holds one more, dedicated connection). */
  poolSize: number;
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

export const DEFAULT_QUERY_PORT = 3002;

/** Reads the query service settings; throws one ConfigError naming every bad variable. */
export function readQueryConfig(env: NodeJS.ProcessEnv = process.env): QueryConfig {
  const reader = new EnvReader(withAuthFlag(env));
  const auth = readAuthSettings(reader);
  const port = reader.port('QUERY_PORT', DEFAULT_QUERY_PORT);
  const host = reader.string('QUERY_HOST', '0.0.0.0');
  const databaseUrl = reader.url('DATABASE_URL', DEFAULT_DATABASE_URL, [
    'postgres:',
    'postgresql:',
  ]);
  const poolSize = reader.int('QUERY_DB_POOL_SIZE', 10, 1, 1000);
  const kafka = readKafkaSettings(reader, 'sync-query');
  const partitions = reader.int('SYNC_TOPIC_PARTITIONS', 0, 0, 1_000_000);
  const partitionCountTtlMs = reader.int('QUERY_PARTITION_COUNT_TTL_MS', 300_000, 1000);
  const offsetRecheckMs = reader.int('QUERY_OFFSET_RECHECK_MS', 1000, 50, 60_000);
  const ingestUrl = reader.url('QUERY_INGEST_URL', 'http://127.0.0.1:3001', ['http:', 'https:']);
  const projectorUrl = reader.url('QUERY_PROJECTOR_URL', 'http://127.0.0.1:3003', [
    'http:',
    'https:',
  ]);
  // Beside the compiled service: dist/apps/query/src -> dist/apps/inspector.
  const inspectorDir = reader.string('QUERY_INSPECTOR_DIR', join(__dirname, '../../inspector'));

  const cors = readCorsSettings(reader);
  const schema = reader.parsed('SYNC_SCHEMA', () => loadConfiguredSchema(env));
  reader.done('query');
  return {
    port,
    host,
    databaseUrl,
    poolSize,
    kafka,
    topicPartitions: partitions === 0 ? undefined : partitions,
    partitionCountTtlMs,
    schema: schema!, // done() threw if it was not read
    offsetRecheckMs,
    auth,
    ingestUrl,
    projectorUrl,
    inspectorDir,
    cors,
  };
}
