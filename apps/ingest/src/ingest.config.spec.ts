import { ConfigError } from '@sync/platform';
import { readIngestConfig } from './ingest.config';

describe('readIngestConfig', () => {
  it('has the documented defaults', () => {
    const config = readIngestConfig({});
    expect(config).toMatchObject({
      port: 3001,
      maxDriftMs: 300_000,
      maxBodyBytes: 10 * 1024 * 1024,
      maxBatchOps: 10_000,
      kafka: { brokers: ['127.0.0.1:9092'], operationsTopic: 'sync.operations' },
      publish: {
        mode: 'single-request',
        timeoutMs: 5000,
        outcomeTimeoutMs: 40_000,
        maxRecordBatchBytes: 1_000_000,
      },
      admission: { maxRequests: 32, maxOps: 20_000, maxBytes: 20 * 1024 * 1024 },
    });
    expect(config.schema.source).toBe('default');
    expect(config.cors).toEqual({ origins: [] });
  });

  it('reads every setting', () => {
    const config = readIngestConfig({
      INGEST_PORT: '4001',
      KAFKA_BROKERS: 'a:1,b:2',
      SYNC_TOPIC: 'ops',
      MAX_DRIFT_MS: '1000',
      INGEST_MAX_BODY_BYTES: '2048',
      INGEST_MAX_BATCH_OPS: '7',
      INGEST_PUBLISH_MODE: 'transactional',
      INGEST_PUBLISH_TIMEOUT_MS: '2500',
      INGEST_PUBLISH_OUTCOME_TIMEOUT_MS: '9000',
      INGEST_PRODUCERS: '3',
      INGEST_TRANSACTIONAL_ID: 'ingest-0',
      INGEST_MAX_INFLIGHT_REQUESTS: '8',
      INGEST_MAX_INFLIGHT_OPS: '70',
      INGEST_MAX_INFLIGHT_BYTES: '4096',
      SYNC_CORS_ORIGINS: 'http://localhost:5173,https://app.example.com',
    });
    expect(config).toMatchObject({
      port: 4001,
      cors: { origins: ['http://localhost:5173', 'https://app.example.com'] },
      kafka: { brokers: ['a:1', 'b:2'], operationsTopic: 'ops' },
      maxDriftMs: 1000,
      maxBodyBytes: 2048,
      maxBatchOps: 7,
      publish: {
        mode: 'transactional',
        timeoutMs: 2500,
        outcomeTimeoutMs: 9000,
        producers: 3,
        transactionalIdPrefix: 'ingest-0',
      },
      admission: { maxRequests: 8, maxOps: 70, maxBytes: 4096 },
    });
  });

  it('names every bad variable at once, the schema file included', () => {
    let message = '';
    try {
      readIngestConfig({
        INGEST_PORT: 'http',
        MAX_DRIFT_MS: '-5',
        INGEST_PUBLISH_MODE: 'fast',
        INGEST_PUBLISH_TIMEOUT_MS: '20000',
        INGEST_TRANSACTION_TIMEOUT_MS: '10000',
        SYNC_SCHEMA: '/nonexistent/schema.json',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    for (const name of ['INGEST_PORT', 'MAX_DRIFT_MS', 'INGEST_PUBLISH_MODE', 'SYNC_SCHEMA']) {
      expect(message).toContain(name);
    }
  });

  it('requires the transaction timeout to outlast the publish timeout', () => {
    expect(() =>
      readIngestConfig({
        INGEST_PUBLISH_TIMEOUT_MS: '20000',
        INGEST_TRANSACTION_TIMEOUT_MS: '15000',
      }),
    ).toThrow(/INGEST_TRANSACTION_TIMEOUT_MS/);
    expect(() =>
      readIngestConfig({
        INGEST_PUBLISH_TIMEOUT_MS: '20000',
        INGEST_TRANSACTION_TIMEOUT_MS: '25000',
      }),
    ).not.toThrow();
  });

  it('requires the outcome timeout to be at least the publish timeout, and follows a longer one', () => {
    expect(() =>
      readIngestConfig({
        INGEST_PUBLISH_TIMEOUT_MS: '5000',
        INGEST_PUBLISH_OUTCOME_TIMEOUT_MS: '4000',
      }),
    ).toThrow(/INGEST_PUBLISH_OUTCOME_TIMEOUT_MS/);
    expect(
      readIngestConfig({
        INGEST_PUBLISH_TIMEOUT_MS: '60000',
        INGEST_TRANSACTION_TIMEOUT_MS: '90000',
      }).publish.outcomeTimeoutMs,
    ).toBe(60_000);
  });

  it('requires the in-flight bounds to hold the largest request', () => {
    expect(() =>
      readIngestConfig({ INGEST_MAX_BATCH_OPS: '5000', INGEST_MAX_INFLIGHT_OPS: '4999' }),
    ).toThrow(/INGEST_MAX_INFLIGHT_OPS/);
    expect(() =>
      readIngestConfig({ INGEST_MAX_BODY_BYTES: '100000', INGEST_MAX_INFLIGHT_BYTES: '99999' }),
    ).toThrow(/INGEST_MAX_INFLIGHT_BYTES/);
    expect(() => readIngestConfig({ INGEST_MAX_INFLIGHT_REQUESTS: '0' })).toThrow(
      /INGEST_MAX_INFLIGHT_REQUESTS/,
    );
  });
});
