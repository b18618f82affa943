import { ConfigError } from '@sync/platform';
import { readQueryConfig } from './query.config';

describe('readQueryConfig', () => {
  it('has working defaults', () => {
    const config = readQueryConfig({});
    expect(config).toMatchObject({
      port: 3002,
      poolSize: 10,
      topicPartitions: undefined,
      offsetRecheckMs: 1000,
      standbyPollMs: 10,
      overload: {
        maxDbQueue: 200,
        dbQueueTimeoutMs: 2000,
        statementTimeoutMs: 10_000,
        maxOffsetWaiters: 100,
      },
    });
    expect(config.kafka.operationsTopic).toBe('sync.operations');
    expect(config.schema.model('FilePath')).toBeDefined();
    expect(config).toMatchObject({
      ingestUrl: 'http://127.0.0.1:3001',
      projectorUrl: 'http://127.0.0.1:3003',
    });
    expect(config.inspectorDir).toMatch(/apps[/\\]inspector$/);
    expect(config.cors).toEqual({ origins: [] });
  });

  it('reads the CORS origins and names a bad one', () => {
    expect(readQueryConfig({ SYNC_CORS_ORIGINS: 'http://localhost:5173' }).cors).toEqual({
      origins: ['http://localhost:5173'],
    });
    expect(() => readQueryConfig({ SYNC_CORS_ORIGINS: 'http://localhost:5173/app' })).toThrow(
      /SYNC_CORS_ORIGINS/,
    );
  });

  it('refuses a service URL that is not http(s)', () => {
    expect(() =>
      readQueryConfig({ QUERY_INGEST_URL: 'ftp://x', QUERY_PROJECTOR_URL: 'nope' }),
    ).toThrow(/QUERY_INGEST_URL[\s\S]*QUERY_PROJECTOR_URL/);
  });

  it('reads the environment', () => {
    const config = readQueryConfig({
      QUERY_PORT: '4000',
      DATABASE_URL: 'postgres://u@db:5432/x',
      SYNC_TOPIC: 'ops',
      SYNC_TOPIC_PARTITIONS: '12',
      QUERY_DB_POOL_SIZE: '3',
      QUERY_DB_MAX_QUEUE: '7',
      QUERY_DB_QUEUE_TIMEOUT_MS: '300',
      QUERY_STATEMENT_TIMEOUT_MS: '4000',
      QUERY_MAX_OFFSET_WAITERS: '9',
      QUERY_STANDBY_POLL_MS: '25',
    });
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: 'postgres://u@db:5432/x',
      topicPartitions: 12,
      standbyPollMs: 25,
      poolSize: 3,
      overload: {
        maxDbQueue: 7,
        dbQueueTimeoutMs: 300,
        statementTimeoutMs: 4000,
        maxOffsetWaiters: 9,
      },
    });
    expect(config.kafka.operationsTopic).toBe('ops');
    // Reads default to the projector's database.
    expect(config.primaryDatabaseUrl).toBe('postgres://u@db:5432/x');
  });

  it('reads from QUERY_DATABASE_URL and writes to DATABASE_URL', () => {
    const config = readQueryConfig({
      DATABASE_URL: 'postgres://u@primary:5432/x',
      QUERY_DATABASE_URL: 'postgresql://u@standby:5433/x',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://u@standby:5433/x',
      primaryDatabaseUrl: 'postgres://u@primary:5432/x',
    });
    expect(() => readQueryConfig({ QUERY_DATABASE_URL: 'mysql://standby/x' })).toThrow(
      /QUERY_DATABASE_URL/,
    );
  });

  it('names every bad variable, the schema file included', () => {
    let message = '';
    try {
      readQueryConfig({
        QUERY_PORT: 'x',
        QUERY_MAX_OFFSET_WAITERS: '0',
        SYNC_TOPIC_PARTITIONS: '-1',
        SYNC_SCHEMA: '/nonexistent/schema.json',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain('QUERY_PORT');
    expect(message).toContain('QUERY_MAX_OFFSET_WAITERS');
    expect(message).toContain('SYNC_TOPIC_PARTITIONS');
    expect(message).toContain('/nonexistent/schema.json');
  });

  it('keeps the minOffset waiters within what the pool and its queue can take at once', () => {
    expect(() =>
      readQueryConfig({
        QUERY_DB_POOL_SIZE: '2',
        QUERY_DB_MAX_QUEUE: '3',
        QUERY_MAX_OFFSET_WAITERS: '6',
      }),
    ).toThrow(/QUERY_MAX_OFFSET_WAITERS/);
    expect(
      readQueryConfig({
        QUERY_DB_POOL_SIZE: '2',
        QUERY_DB_MAX_QUEUE: '3',
        QUERY_MAX_OFFSET_WAITERS: '5',
      }).overload.maxOffsetWaiters,
    ).toBe(5);
  });
});
