import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { createIngestApp } from '../apps/ingest/src/ingest.app';
import { readIngestConfig } from '../apps/ingest/src/ingest.config';
import { createProjectorApp } from '../apps/projector/src/projector.app';
import { readProjectorConfig } from '../apps/projector/src/projector.config';
import { createQueryApp } from '../apps/query/src/query.app';
import { readQueryConfig } from '../apps/query/src/query.config';
import { runKeysCli } from '../scripts/keys-cli';
import { endOffsets, hybridAt, tagCreates } from './ingest-fixtures';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  kafkaBrokers,
} from './support/test-env';

/**
 * Access control against real services (ingest, projector, query in-process, real Kafka and
 * Postgres, auth ON): every 401/403/429 path, node binding, revocation across instances, the
 * key CLI, JSON limits, and a scan of everything the services logged for key material.
 */

// Everything written to stdout/stderr or the console while this file runs: the services' logs.
const captured: string[] = [];
const restoreCapture = captureOutput(captured);

/** Every key this file created; none of their secrets may show up in the captured output. */
const issuedKeys: string[] = [];

type Json = Record<string, unknown> & { items?: Json[]; details?: Json[] };

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { key?: string; authorization?: string; body?: unknown; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body: string | undefined;
  if (options.raw !== undefined || options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.raw ?? JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : {}) as Json,
    headers: response.headers,
  };
}

describe('security: API keys, roles, node binding, revocation, limits', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: TestTopics;
  let ingest: INestApplication;
  let projector: INestApplication;
  let query: INestApplication;
  let ingestUrl: string;
  let queryUrl: string;
  let adminKey: string;
  let ingestEnv: Record<string, string>;
  const rateLimits = {
    INGEST_RATE_LIMIT_RPS: '2',
    INGEST_RATE_LIMIT_BURST: '3',
    INGEST_RATE_LIMIT_OPS_PER_SEC: '100',
  };

  /** A new key through the admin route, remembered for the log scan. */
  async function createKey(request: {
    libraryId: string | null;
    roles: string[];
    node?: string;
    label?: string;
  }): Promise<{ key: string; keyId: string }> {
    const answer = await call(queryUrl, 'POST', '/admin/keys', { key: adminKey, body: request });
    expect(answer.status).toBe(201);
    const key = answer.body.key as string;
    issuedKeys.push(key);
    return { key, keyId: answer.body.keyId as string };
  }

  const postOps = (libraryId: string, ops: unknown, key?: string) =>
    call(ingestUrl, 'POST', `/libraries/${libraryId}/operations`, { key, body: ops });

  beforeAll(async () => {
    database = await createTestDatabase('security');
    topics = await createTestTopics('security', 1);
    const env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SYNC_TOPIC: topics.operationsTopic,
      SYNC_DLQ_TOPIC: topics.deadLetterTopic,
      DATABASE_URL: database.url,
      // Explicit: whatever the runner's environment says, these services check keys.
      SYNC_AUTH_DISABLED: 'false',
    };

    // The first admin key can only come from the CLI, which talks to the database.
    const out: string[] = [];
    const code = await runKeysCli(
      ['create', '--all', '--role', 'read,write,admin', '--label', 'first admin'],
      { DATABASE_URL: database.url },
      { out: (line) => out.push(line), err: () => undefined },
    );
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    adminKey = out[0];
    expect(adminKey).toMatch(/^sk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    issuedKeys.push(adminKey);

    ingestEnv = env;
    ingest = await createIngestApp(
      readIngestConfig({
        ...env,
        ...rateLimits,
        INGEST_MAX_JSON_DEPTH: '6',
        INGEST_MAX_STRING_LENGTH: '1000',
      }),
    );
    await ingest.listen(0, '127.0.0.1');
    projector = await createProjectorApp(
      readProjectorConfig({ ...env, PROJECTOR_GROUP: topics.consumerGroup }),
    );
    await projector.init();
    query = await createQueryApp(readQueryConfig({ ...env, SYNC_TOPIC_PARTITIONS: '1' }));
    await query.listen(0, '127.0.0.1');
    const port = (app: INestApplication) =>
      (app.getHttpServer().address() as { port: number }).port;
    ingestUrl = `http://127.0.0.1:${port(ingest)}`;
    queryUrl = `http://127.0.0.1:${port(query)}`;
  }, 120_000);

  afterAll(async () => {
    await ingest?.close();
    await projector?.close();
    await query?.close();
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
    restoreCapture();
  });

  it('leaves health, metrics and the API docs open', async () => {
    for (const base of [ingestUrl, queryUrl]) {
      expect((await call(base, 'GET', '/health/live')).status).toBe(200);
      expect((await call(base, 'GET', '/health/ready')).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect((await fetch(`${base}/docs-json`)).status).toBe(200);
    }
  });

  it('answers 401 with WWW-Authenticate on every protected route without a valid key', async () => {
    const library = randomUUID();
    const { key: valid } = await createKey({ libraryId: null, roles: ['read', 'write'] });
    const [, keyId] = /^sk_([0-9a-f]{16})_/.exec(valid)!;
    const wrongSecret = `sk_${keyId}_${'A'.repeat(43)}`;
    const unknownId = `sk_${'0'.repeat(16)}_${valid.slice(-43)}`;
    issuedKeys.push(wrongSecret, unknownId);
    const credentials: { authorization?: string }[] = [
      {},
      { authorization: '' },
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: 'Bearer not-a-key' },
      { authorization: `Bearer ${wrongSecret}` },
      { authorization: `Bearer ${unknownId}` },
      { authorization: `Bearer ${valid}x` },
    ];
    const routes: [string, string, string][] = [
      [ingestUrl, 'POST', `/libraries/${library}/operations`],
      [ingestUrl, 'GET', '/clock'],
      [queryUrl, 'GET', '/libraries'],
      [queryUrl, 'GET', `/libraries/${library}/status`],
      [queryUrl, 'GET', `/libraries/${library}/records`],
      [queryUrl, 'GET', `/libraries/${library}/records/${randomUUID()}`],
      [queryUrl, 'GET', `/libraries/${library}/relations`],
      [queryUrl, 'GET', `/libraries/${library}/operations`],
      [queryUrl, 'GET', `/libraries/${library}/rejected`],
      [queryUrl, 'GET', '/admin/keys'],
      [queryUrl, 'POST', '/admin/keys'],
      [queryUrl, 'DELETE', `/admin/keys/${keyId}`],
    ];
    for (const [base, method, path] of routes) {
      for (const credential of credentials) {
        const answer = await call(base, method, path, {
          ...credential,
          ...(method === 'POST' ? { body: tagCreates(1) } : {}),
        });
        expect({
          method,
          path,
          credential,
          status: answer.status,
          error: answer.body.error,
        }).toEqual({ method, path, credential, status: 401, error: 'UNAUTHORIZED' });
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        expect(typeof answer.body.message).toBe('string');
      }
    }
    // The key itself still works: the 401s were about the credentials, not the key.
    expect((await call(ingestUrl, 'GET', '/clock', { key: valid })).status).toBe(200);
  });

  it('turns a caller without a key away before reading its body', async () => {
    const answer = await call(ingestUrl, 'POST', `/libraries/${randomUUID()}/operations`, {
      raw: '[{"this is not json',
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('UNAUTHORIZED');
  });

  it('answers 403 when the key lacks the role or does not cover the library', async () => {
    const mine = randomUUID();
    const other = randomUUID();
    const reader = await createKey({ libraryId: mine, roles: ['read'] });
    const writer = await createKey({ libraryId: mine, roles: ['write'] });
    const allWriter = await createKey({ libraryId: null, roles: ['write'] });

    const cases: [string, Promise<Answer>][] = [
      ['read key posts ops', postOps(mine, tagCreates(1), reader.key)],
      ['write key posts to another library', postOps(other, tagCreates(1), writer.key)],
      [
        'write key reads its library',
        call(queryUrl, 'GET', `/libraries/${mine}/status`, { key: writer.key }),
      ],
      [
        'all-libraries write key reads',
        call(queryUrl, 'GET', `/libraries/${mine}/records`, { key: allWriter.key }),
      ],
      [
        'read key reads another library',
        call(queryUrl, 'GET', `/libraries/${other}/records`, { key: reader.key }),
      ],
      [
        'read key reads another feed',
        call(queryUrl, 'GET', `/libraries/${other}/operations`, { key: reader.key }),
      ],
      ['library key lists all libraries', call(queryUrl, 'GET', '/libraries', { key: reader.key })],
      ['non-admin lists keys', call(queryUrl, 'GET', '/admin/keys', { key: allWriter.key })],
      [
        'non-admin creates a key',
        call(queryUrl, 'POST', '/admin/keys', {
          key: allWriter.key,
          body: { libraryId: null, roles: ['admin'] },
        }),
      ],
      [
        'non-admin revokes a key',
        call(queryUrl, 'DELETE', `/admin/keys/${reader.keyId}`, { key: writer.key }),
      ],
    ];
    for (const [name, pending] of cases) {
      const answer = await pending;
      expect({ name, status: answer.status, error: answer.body.error }).toEqual({
        name,
        status: 403,
        error: 'FORBIDDEN',
      });
    }
    // Library ids match whatever their case, and the same keys do what they are for.
    expect((await postOps(mine.toUpperCase(), tagCreates(1), writer.key)).status).toBe(202);
    const status = await call(queryUrl, 'GET', `/libraries/${mine.toUpperCase()}/status`, {
      key: reader.key,
    });
    expect(status.status).toBe(200);
    // The reader was never revoked by the non-admin attempt.
    expect(
      (await call(queryUrl, 'GET', `/libraries/${mine}/records`, { key: reader.key })).status,
    ).toBe(200);
  });

  it('writes with a write key and reads back with a read key through the whole pipeline', async () => {
    const library = randomUUID();
    const writer = await createKey({ libraryId: library, roles: ['write'] });
    const reader = await createKey({ libraryId: library, roles: ['read'] });
    const node = randomUUID();
    const ops = [0, 1, 2].map((i) => ({
      type: 'CREATE',
      recordId: randomUUID(),
      model: 'Tag',
      data: { name: `tag ${i}` },
      node,
      timestamp: { hybrid: hybridAt(0, i) },
    }));
    const written = await postOps(library, ops, writer.key);
    expect(written.status).toBe(202);
    const records = await call(
      queryUrl,
      'GET',
      `/libraries/${library}/records?model=Tag&minOffset=${written.body.lastOffset as string}`,
      { key: reader.key },
    );
    expect(records.status).toBe(200);
    expect(records.body.items!.map((r) => r.id).sort()).toEqual(
      ops.map((op) => op.recordId as string).sort(),
    );
    const admin = await call(queryUrl, 'GET', '/libraries', { key: adminKey });
    expect(admin.status).toBe(200);
    expect(admin.body.items!.map((l) => l.id)).toContain(library);
  });

  it('binds a key to one node: every op must carry it, else 403 NODE_MISMATCH and nothing is published', async () => {
    const library = randomUUID();
    const node = randomUUID();
    const bound = await createKey({ libraryId: library, roles: ['write'], node });

    const own = tagCreates(2, node.toUpperCase());
    expect((await postOps(library, own, bound.key)).status).toBe(202);

    const before = await endOffsets(topics.operationsTopic);
    const mixed = [...tagCreates(2, node), ...tagCreates(1, randomUUID()), ...tagCreates(1, node)];
    const answer = await postOps(library, mixed, bound.key);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: 'NODE_MISMATCH',
      message: expect.any(String),
      details: [{ index: 2, path: 'node', message: expect.any(String) }],
    });
    const foreign = await postOps(library, tagCreates(3, randomUUID()), bound.key);
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('NODE_MISMATCH');
    expect(foreign.body.details).toHaveLength(3);
    expect(await endOffsets(topics.operationsTopic)).toEqual(before);

    // An unbound key of the same library writes any node's ops.
    const unbound = await createKey({ libraryId: library, roles: ['write'] });
    expect((await postOps(library, mixed, unbound.key)).status).toBe(202);
  });

  it('rate limits each key on ingest with 429 and Retry-After, and lets it back in after the wait', async () => {
    const library = randomUUID();
    const first = await createKey({ libraryId: library, roles: ['write'] });
    const second = await createKey({ libraryId: library, roles: ['write'] });
    // Burst of 3 requests, then 2 per second.
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await postOps(library, tagCreates(1), first.key));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 429]);
    const limited = answers[3];
    expect(limited.body).toEqual({ error: 'TOO_MANY_REQUESTS', message: expect.any(String) });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // Per key: another key of the same library is not affected.
    expect((await postOps(library, tagCreates(1), second.key)).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    expect((await postOps(library, tagCreates(1), first.key)).status).toBe(202);

    // Ops budget (100 ops/s): a big batch passes once, then the key waits.
    const bulk = await createKey({ libraryId: library, roles: ['write'] });
    expect((await postOps(library, tagCreates(250), bulk.key)).status).toBe(202);
    const over = await postOps(library, tagCreates(1), bulk.key);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(2);
  });

  it('keeps rate limits per instance, as documented: a second ingest instance has its own buckets', async () => {
    // Same settings as the first instance (burst 3, then 2 per second), same key store.
    const second = await createIngestApp(readIngestConfig({ ...ingestEnv, ...rateLimits }));
    try {
      await second.listen(0, '127.0.0.1');
      const secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
      const library = randomUUID();
      const { key } = await createKey({ libraryId: library, roles: ['write'] });
      const onFirst: number[] = [];
      for (let i = 0; i < 4; i++) onFirst.push((await postOps(library, tagCreates(1), key)).status);
      expect(onFirst).toEqual([202, 202, 202, 429]);
      // The key's budget on the first instance is spent; the second one never saw it.
      const onSecond = await call(secondUrl, 'POST', `/libraries/${library}/operations`, {
        key,
        body: tagCreates(1),
      });
      expect(onSecond.status).toBe(202);
    } finally {
      await second.close();
    }
  });

  it('makes a revocation through the admin route effective within a second on every instance', async () => {
    const library = randomUUID();
    const { key, keyId } = await createKey({ libraryId: library, roles: ['read', 'write'] });
    // Warm both caches.
    expect((await call(ingestUrl, 'GET', '/clock', { key })).status).toBe(200);
    expect((await call(queryUrl, 'GET', `/libraries/${library}/status`, { key })).status).toBe(200);

    const revoked = await call(queryUrl, 'DELETE', `/admin/keys/${keyId}`, { key: adminKey });
    expect(revoked.status).toBe(204);
    const at = Date.now();
    // The instance that revoked it knows at once.
    expect((await call(queryUrl, 'GET', `/libraries/${library}/status`, { key })).status).toBe(401);
    // The other instance (its own cache) within a second.
    const elapsed = await msUntilRejected(ingestUrl, key, at);
    expect(elapsed).toBeLessThan(1000);
    const after = await postOps(library, tagCreates(1), key);
    expect(after.status).toBe(401);

    const listed = await call(queryUrl, 'GET', '/admin/keys', { key: adminKey });
    const entry = listed.body.items!.find((k) => k.keyId === keyId)!;
    expect(entry.revokedAt).toEqual(expect.any(String));
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(-43));
    expect(
      (await call(queryUrl, 'DELETE', `/admin/keys/${'f'.repeat(16)}`, { key: adminKey })).status,
    ).toBe(404);
  });

  it('manages keys with the CLI, and a CLI revocation takes effect within a second', async () => {
    const library = randomUUID();
    const node = randomUUID();
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const env = { DATABASE_URL: database.url };
    expect(
      await runKeysCli(
        ['create', '--library', library, '--role', 'write', '--node', node, '--label', 'laptop'],
        env,
        io,
      ),
    ).toBe(0);
    const key = out.pop()!;
    issuedKeys.push(key);
    const keyId = /^sk_([0-9a-f]{16})_/.exec(key)![1];
    expect((await postOps(library, tagCreates(1, node), key)).status).toBe(202);
    expect((await postOps(library, tagCreates(1), key)).body.error).toBe('NODE_MISMATCH');

    expect(await runKeysCli(['list'], env, io)).toBe(0);
    const line = out.find((l) => l.startsWith(keyId))!;
    expect(line).toContain(`library=${library}`);
    expect(line).toContain(`node=${node}`);
    expect(out.join('\n')).not.toContain(key.slice(-43));

    // Bad requests are refused without creating anything.
    expect(await runKeysCli(['create', '--library', library, '--role', 'admin'], env, io)).toBe(2);
    expect(
      await runKeysCli(['create', '--all', '--library', library, '--role', 'read'], env, io),
    ).toBe(2);
    expect(await runKeysCli(['create', '--all', '--role', 'root'], env, io)).toBe(2);

    expect((await call(ingestUrl, 'GET', '/clock', { key })).status).toBe(200);
    expect(await runKeysCli(['revoke', keyId], env, io)).toBe(0);
    expect(await msUntilRejected(ingestUrl, key, Date.now())).toBeLessThan(1000);
    expect(await runKeysCli(['revoke', 'f'.repeat(16)], env, io)).toBe(1);
  });

  it('checks admin create requests and shows the secret only once', async () => {
    const bad = await call(queryUrl, 'POST', '/admin/keys', {
      key: adminKey,
      body: { libraryId: randomUUID(), roles: ['admin', 'fly'], node: 'x', extra: 1 },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toBe('VALIDATION_FAILED');
    expect(bad.body.details!.map((d) => d.path).sort()).toEqual([
      'extra',
      'node',
      'roles',
      'roles.1',
    ]);
    const adminScoped = await call(queryUrl, 'POST', '/admin/keys', {
      key: adminKey,
      body: { libraryId: randomUUID(), roles: ['admin'] },
    });
    expect(adminScoped.status).toBe(422);

    // A second admin can manage keys too.
    const second = await createKey({ libraryId: null, roles: ['admin'], label: 'ops' });
    const listed = await call(queryUrl, 'GET', '/admin/keys', { key: second.key });
    expect(listed.status).toBe(200);
    for (const item of listed.body.items!) {
      expect(Object.keys(item).sort()).toEqual(
        ['createdAt', 'keyId', 'label', 'libraryId', 'node', 'revokedAt', 'roles'].sort(),
      );
    }
  });

  it('limits JSON nesting depth and string length per field with 422 VALIDATION_FAILED', async () => {
    const library = randomUUID();
    const { key } = await createKey({ libraryId: library, roles: ['write'] });
    const node = randomUUID();
    const base = {
      type: 'CREATE',
      recordId: randomUUID(),
      model: 'Tag',
      node,
      timestamp: { hybrid: hybridAt() },
    };
    let deep: unknown = 'x';
    for (let i = 0; i < 10; i++) deep = { deeper: deep };
    const tooDeep = await postOps(library, [{ ...base, data: { name: deep } }], key);
    expect(tooDeep.status).toBe(422);
    expect(tooDeep.body.error).toBe('VALIDATION_FAILED');
    expect(tooDeep.body.details![0]).toEqual({
      index: 0,
      // The op is level 1, data 2, data.name 3: the 7th level is one too many.
      path: 'data.name.deeper.deeper.deeper.deeper',
      message: expect.stringContaining('nested deeper than 6'),
    });

    const long = await postOps(
      library,
      [
        { ...base, data: { name: 'x'.repeat(1000) } },
        { ...base, recordId: randomUUID(), data: { name: 'y'.repeat(1001) } },
      ],
      key,
    );
    expect(long.status).toBe(422);
    expect(long.body.details).toEqual([
      { index: 1, path: 'data.name', message: expect.stringContaining('at most 1000') },
    ]);
    expect(
      (await postOps(library, [{ ...base, data: { name: 'x'.repeat(1000) } }], key)).status,
    ).toBe(202);
  });

  it('never writes key material to the logs', () => {
    const output = captured.join('');
    // The capture works: the admin route logs each key it creates or revokes, by id.
    expect(output).toMatch(/key [0-9a-f]{16} created/);
    expect(output).toMatch(/key [0-9a-f]{16} revoked/);
    expect(issuedKeys.length).toBeGreaterThan(10);
    for (const key of issuedKeys) {
      const secret = key.slice(-43);
      expect(output.includes(secret)).toBe(false);
    }
    expect(output).not.toMatch(/sk_[0-9a-f]{16}_[A-Za-z0-9_-]{20,}/);
    expect(output).not.toMatch(/Bearer\s+\S/i);
  });
});

/** Polls GET /clock with the key until it is refused; returns ms since `since`. */
async function msUntilRejected(base: string, key: string, since: number): Promise<number> {
  for (;;) {
    const answer = await call(base, 'GET', '/clock', { key });
    if (answer.status === 401) return Date.now() - since;
    expect(answer.status).toBe(200);
    if (Date.now() - since > 5000) return Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Collects stdout, stderr and the console into `sink` (passed through only with
 * SECURITY_TEST_LOGS=1, to keep the run quiet); returns the restore function.
 */
function captureOutput(sink: string[]): () => void {
  const echo = process.env.SECURITY_TEST_LOGS === '1';
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  streams.forEach((stream, i) => {
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return echo ? (originals[i] as (...args: unknown[]) => boolean)(chunk, ...rest) : true;
    };
  });
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const consoleOriginals = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      sink.push(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
      if (echo) consoleOriginals[i](...args);
    };
  });
  return () => {
    streams.forEach((stream, i) => (stream.write = originals[i]));
    methods.forEach((m, i) => (console[m] = consoleOriginals[i]));
  };
}
