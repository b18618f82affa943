import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { partitionForLibrary } from '@sync/kafka';
import { Pool } from 'pg';
import { createQueryApp } from '../apps/query/src/query.app';
import { readQueryConfig } from '../apps/query/src/query.config';
import { insertLibrary, insertRecord, setApplied } from './query-fixtures';
import { QUERY_READ_CLIENT_TIMEOUT_MS } from './support/client-timeouts';
import { createTestDatabase } from './support/test-env';

/**
 * The query service under overload: database work beyond the pool and its bounded queue, and
 * minOffset waiters beyond their bound, are answered 503 SERVER_BUSY with Retry-After at once;
 * what was admitted is answered as usual once the database frees up.
 */
describe('query service under overload', () => {
  const topic = `query-overload.${randomUUID().slice(0, 8)}.operations`;
  const PARTITIONS = 3;
  const POOL = 2;
  const QUEUE = 3;
  // Woken together, the waiters and the watcher's re-read fit the pool and its queue.
  const WAITERS = 3;
  const QUEUE_TIMEOUT_MS = 4000;
  // A refusal is prompt when it comes far sooner than a queued read's timeout or a waiter's
  // waitMs: it did not queue. The latency itself is measured by the overload benchmark.
  const PROMPT_MS = QUEUE_TIMEOUT_MS / 4;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase('query_overload');
    pool = new Pool({ connectionString: database.url, max: 3 });
    pool.on('error', () => undefined);
    app = await createQueryApp(
      readQueryConfig({
        DATABASE_URL: database.url,
        SYNC_TOPIC: topic,
        SYNC_TOPIC_PARTITIONS: String(PARTITIONS),
        QUERY_DB_POOL_SIZE: String(POOL),
        QUERY_DB_MAX_QUEUE: String(QUEUE),
        QUERY_DB_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS),
        QUERY_MAX_OFFSET_WAITERS: String(WAITERS),
        QUERY_OFFSET_RECHECK_MS: '200',
      }),
    );
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await app?.close();
    await pool?.end();
    await database?.drop();
  });

  interface Timed {
    status: number;
    error?: string;
    retryAfter: string | null;
    ms: number;
  }

  async function get(path: string): Promise<Timed> {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, {
      signal: AbortSignal.timeout(QUERY_READ_CLIENT_TIMEOUT_MS),
    });
    const body = (await response.json()) as { error?: string };
    return {
      status: response.status,
      error: body.error,
      retryAfter: response.headers.get('retry-after'),
      ms: performance.now() - started,
    };
  }

  async function newLibrary() {
    const id = randomUUID();
    await insertLibrary(pool, id, partitionForLibrary(id, PARTITIONS), {});
    await insertRecord(pool, id, { model: 'Tag', data: { name: 'a' } });
    return id;
  }

  it('answers database work beyond the pool and its queue with a prompt 503, the rest once the database frees up', async () => {
    const lib = await newLibrary();
    // Warm up: the partition is cached, connections are open.
    expect((await get(`/libraries/${lib}/records`)).status).toBe(200);

    // Every read of records now blocks on the lock: the pool's connections stay busy.
    const locker = await pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE records IN ACCESS EXCLUSIVE MODE');
    const blocked = Array.from({ length: POOL + QUEUE }, () => get(`/libraries/${lib}/records`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await Promise.all(
      Array.from({ length: 10 }, () => get(`/libraries/${lib}/records`)),
    );
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 503, error: 'SERVER_BUSY', retryAfter: '1' });
      expect(answer.ms).toBeLessThan(PROMPT_MS);
    }

    await locker.query('COMMIT');
    locker.release();
    const admitted = await Promise.all(blocked);
    expect(admitted.map((a) => a.status)).toEqual(Array(POOL + QUEUE).fill(200));
  });

  it('answers a read queued longer than QUERY_DB_QUEUE_TIMEOUT_MS with 503 SERVER_BUSY', async () => {
    const lib = await newLibrary();
    expect((await get(`/libraries/${lib}/records`)).status).toBe(200);
    const locker = await pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE records IN ACCESS EXCLUSIVE MODE');
    const running = Array.from({ length: POOL }, () => get(`/libraries/${lib}/records`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const queued = await get(`/libraries/${lib}/records`);
    expect(queued).toMatchObject({ status: 503, error: 'SERVER_BUSY', retryAfter: '1' });
    expect(queued.ms).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_MS - 100);
    await locker.query('COMMIT');
    locker.release();
    expect((await Promise.all(running)).map((a) => a.status)).toEqual(Array(POOL).fill(200));
  });

  it('bounds minOffset waiters: the excess gets a prompt 503 SERVER_BUSY, the waiters their answer', async () => {
    const lib = await newLibrary();
    const partition = partitionForLibrary(lib, PARTITIONS);
    await setApplied(pool, topic, partition, 10n);
    expect((await get(`/libraries/${lib}/status`)).status).toBe(200);
    const target = 1_000_000n;
    const waiting = Array.from({ length: WAITERS }, () =>
      get(`/libraries/${lib}/status?minOffset=${target}&waitMs=20000`),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await Promise.all(
      Array.from({ length: 5 }, () =>
        get(`/libraries/${lib}/status?minOffset=${target}&waitMs=20000`),
      ),
    );
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 503, error: 'SERVER_BUSY', retryAfter: '1' });
      expect(answer.ms).toBeLessThan(PROMPT_MS);
    }
    // A read that needs no wait is never refused.
    expect((await get(`/libraries/${lib}/status?minOffset=5`)).status).toBe(200);

    await setApplied(pool, topic, partition, target + 1n);
    expect((await Promise.all(waiting)).map((a) => `${a.status} ${a.error ?? ''}`)).toEqual(
      Array(WAITERS).fill('200 '),
    );
  });
});
