import {
  DEFAULT_MAX_RECORD_BATCH_BYTES,
  DEFAULT_PRODUCER_LANES,
  DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_TRANSACTION_TIMEOUT_MS,
  type KafkaSettings,
  type PublishMode,
  readKafkaSettings,
} from '@sync/kafka';
import { DEFAULT_DATABASE_URL } from '@sync/persistence';
import {
  type AuthSettings,
  type CorsSettings,
  EnvReader,
  type RateLimitSettings,
  readAuthSettings,
  readCorsSettings,
  readRateLimitSettings,
  withAuthFlag,
} from '@sync/platform';
import {
  DEFAULT_JSON_LIMITS,
  DEFAULT_MAX_DRIFT_MS,
  type JsonLimits,
  MAX_JSON_LIMITS,
  type Schema,
} from '@sync/protocol';
import { loadConfiguredSchema } from '@sync/protocol/node';

export interface PublishSettings {
  mode: PublishMode;
  /** Concurrent sends of each kind (one Kafka producer each). */
  producers: number;
  timeoutMs: number;
  /** Bound on learning the outcome of a batch that may have reached a broker (>= timeoutMs). */
  outcomeTimeoutMs: number;
  /** Prefix of the transactional ids; undefined = host name plus a random suffix. */
  transactionalIdPrefix?: string;
  transactionTimeoutMs: number;
  /** Must not exceed the operations topic's max.message.bytes. */
  maxRecordBatchBytes: number;
}

/** Bound on publish work in flight (admitted, not yet answered); beyond it 429 OVERLOADED. */
export interface AdmissionSettings {
  maxRequests: number;
  maxOps: number;
  /** Request body bytes. */
  maxBytes: number;
}

export interface IngestConfig {
  port: number;
  host: string;
  kafka: KafkaSettings;
  maxDriftMs: number;
  maxBodyBytes: number;
  maxBatchOps: number;
  schema: Schema;
  publish: PublishSettings;
  admission: AdmissionSettings;
  /** API keys (off only with SYNC_AUTH_DISABLED=true); keys live in this database. */
  auth: AuthSettings;
  databaseUrl: string;
  rateLimit: RateLimitSettings;
  jsonLimits: JsonLimits;
  /** Browser origins allowed to call the service (SYNC_CORS_ORIGINS). */
  cors: CorsSettings;
}

export const DEFAULT_INGEST_PORT = 3001;
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_OPS = 10_000;
export const DEFAULT_PUBLISH_MODE: PublishMode = 'single-request';
/**
 * In-flight bounds. Requests: 8 per default producer, so an admitted request waits for a free
 * producer behind a few publishes at most (on the overload benchmark 32 kept the same throughput
 * as 64 with a third of the p99; docs/BENCHMARKS.md). Ops and bytes: two of the largest requests.
 */
export const DEFAULT_ADMISSION: AdmissionSettings = {
  maxRequests: 32,
  maxOps: 2 * DEFAULT_MAX_BATCH_OPS,
  maxBytes: 2 * DEFAULT_MAX_BODY_BYTES,
};

/** Reads the ingest settings; throws one ConfigError naming every bad variable. */
export function readIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const reader = new EnvReader(withAuthFlag(env));
  const port = reader.port('INGEST_PORT', DEFAULT_INGEST_PORT);
  const host = reader.string('INGEST_HOST', '0.0.0.0');
  const kafka = readKafkaSettings(reader, 'sync-ingest');
  const maxDriftMs = reader.int('MAX_DRIFT_MS', DEFAULT_MAX_DRIFT_MS, 0);
  const maxBodyBytes = reader.int('INGEST_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1024, 1024 ** 3);
  const maxBatchOps = reader.int('INGEST_MAX_BATCH_OPS', DEFAULT_MAX_BATCH_OPS, 1, 1_000_000);
  const auth = readAuthSettings(reader);
  const databaseUrl = reader.url('DATABASE_URL', DEFAULT_DATABASE_URL, [
    'postgres:',
    'postgresql:',
  ]);
  const rateLimit = readRateLimitSettings(reader);
  const cors = readCorsSettings(reader);
  const jsonLimits: JsonLimits = {
    // At most what the projector accepts: a wider op would pass here and be dead-lettered there.
    maxDepth: reader.int(
      'INGEST_MAX_JSON_DEPTH',
      DEFAULT_JSON_LIMITS.maxDepth,
      3,
      MAX_JSON_LIMITS.maxDepth,
    ),
    maxStringLength: reader.int(
      'INGEST_MAX_STRING_LENGTH',
      DEFAULT_JSON_LIMITS.maxStringLength,
      1,
      MAX_JSON_LIMITS.maxStringLength,
    ),
  };
  const publishTimeoutMs = reader.int(
    'INGEST_PUBLISH_TIMEOUT_MS',
    DEFAULT_PUBLISH_TIMEOUT_MS,
    100,
    120_000,
  );
  const publish: PublishSettings = {
    mode: reader.oneOf('INGEST_PUBLISH_MODE', DEFAULT_PUBLISH_MODE, [
      'single-request',
      'transactional',
    ] as const),
    producers: reader.int('INGEST_PRODUCERS', DEFAULT_PRODUCER_LANES, 1, 256),
    timeoutMs: publishTimeoutMs,
    outcomeTimeoutMs: reader.int(
      'INGEST_PUBLISH_OUTCOME_TIMEOUT_MS',
      Math.max(DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS, publishTimeoutMs),
      100,
      600_000,
    ),
    transactionalIdPrefix: reader.optionalString('INGEST_TRANSACTIONAL_ID'),
    transactionTimeoutMs: reader.int(
      'INGEST_TRANSACTION_TIMEOUT_MS',
      DEFAULT_TRANSACTION_TIMEOUT_MS,
      1000,
      900_000,
    ),
    maxRecordBatchBytes: reader.int(
      'INGEST_MAX_RECORD_BATCH_BYTES',
      DEFAULT_MAX_RECORD_BATCH_BYTES,
      1024,
      1024 ** 3,
    ),
  };

  const admission: AdmissionSettings = {
    maxRequests: reader.int(
      'INGEST_MAX_INFLIGHT_REQUESTS',
      DEFAULT_ADMISSION.maxRequests,
      1,
      1_000_000,
    ),
    maxOps: reader.int('INGEST_MAX_INFLIGHT_OPS', DEFAULT_ADMISSION.maxOps, 1, 1_000_000_000),
    maxBytes: reader.int('INGEST_MAX_INFLIGHT_BYTES', DEFAULT_ADMISSION.maxBytes, 1024, 1024 ** 4),
  };

  const schema = reader.parsed('SYNC_SCHEMA', () => loadConfiguredSchema(env));
  // The largest request must fit the bound, or it could never be admitted.
  if (admission.maxOps < maxBatchOps) {
    reader.problem(
      `INGEST_MAX_INFLIGHT_OPS (${admission.maxOps}) must be at least INGEST_MAX_BATCH_OPS (${maxBatchOps})`,
    );
  }
  if (admission.maxBytes < maxBodyBytes) {
    reader.problem(
      `INGEST_MAX_INFLIGHT_BYTES (${admission.maxBytes}) must be at least INGEST_MAX_BODY_BYTES (${maxBodyBytes})`,
    );
  }
  // Both modes may use transactions (single-request: for batches larger than a record batch).
  if (publish.transactionTimeoutMs <= publish.timeoutMs) {
    reader.problem(
      `INGEST_TRANSACTION_TIMEOUT_MS (${publish.transactionTimeoutMs}) must be longer than INGEST_PUBLISH_TIMEOUT_MS (${publish.timeoutMs})`,
    );
  }
  if (publish.outcomeTimeoutMs < publish.timeoutMs) {
    reader.problem(
      `INGEST_PUBLISH_OUTCOME_TIMEOUT_MS (${publish.outcomeTimeoutMs}) must be at least INGEST_PUBLISH_TIMEOUT_MS (${publish.timeoutMs})`,
    );
  }
  reader.done('ingest');
  return {
    port,
    host,
    kafka,
    maxDriftMs,
    maxBodyBytes,
    maxBatchOps,
    schema: schema!, // done() threw if it was not read
    publish,
    admission,
    auth,
    databaseUrl,
    rateLimit,
    jsonLimits,
    cors,
  };
}
