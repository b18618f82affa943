import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type RunningIngest, startIngest, tagCreates } from './ingest-fixtures';
import { type TestTopics, createTestTopics, deleteTestTopics } from './support/test-env';

/**
 * What the ingest's HTTP platform decides rather than its code: how paths are matched, which
 * bodies are read, and which requests the latency histogram records. Pinned so that a change of
 * HTTP framework (Express to Fastify) keeps them.
 */
describe('ingest: HTTP routing, bodies and request metrics (real broker)', () => {
  let ingest: RunningIngest;
  let topics: TestTopics;

  beforeAll(async () => {
    topics = await createTestTopics('ingest_http', 1);
    ingest = await startIngest({ SYNC_TOPIC: topics.operationsTopic });
  });

  afterAll(async () => {
    await ingest?.close();
    await deleteTestTopics(topics);
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${ingest.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  it('matches paths case-insensitively and with a trailing slash', async () => {
    const libraryId = randomUUID();
    const ops = JSON.stringify(tagCreates(1));
    expect((await post(`/libraries/${libraryId}/operations/`, ops)).status).toBe(202);
    expect((await post(`/LIBRARIES/${libraryId}/Operations`, ops)).status).toBe(202);
    expect((await fetch(`${ingest.url}/clock/`)).status).toBe(200);
  });

  it('reads a gzip body, and refuses an unknown content encoding with 415', async () => {
    const ops = JSON.stringify(tagCreates(2));
    const gzip = await post(`/libraries/${randomUUID()}/operations`, gzipSync(ops), {
      'content-encoding': 'gzip',
    });
    expect(gzip.status).toBe(202);
    expect(((await gzip.json()) as { accepted: number }).accepted).toBe(2);
    const snappy = await post(`/libraries/${randomUUID()}/operations`, ops, {
      'content-encoding': 'x-snappy',
    });
    expect(snappy.status).toBe(415);
    expect(((await snappy.json()) as { error: string }).error).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers an undecodable library id 400 INVALID_LIBRARY_ID and an unknown route 404', async () => {
    const bad = await post('/libraries/%ff%fe/operations', '[]');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('INVALID_LIBRARY_ID');
    const missing = await fetch(`${ingest.url}/nowhere%ff`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'NOT_FOUND', message: 'no such route' });
  });

  it('records request latency by route template for requests that reached their route', async () => {
    const route = 'route="/libraries/:libraryId/operations"';
    const count = async (status: number): Promise<number> => {
      const text = await (await fetch(`${ingest.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('http_request_duration_seconds_count{') &&
            l.includes(route) &&
            l.includes('method="POST"') &&
            l.includes(`status="${status}"`),
        );
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const [accepted, refused, unparsed] = [await count(202), await count(422), await count(415)];
    await post(`/libraries/${randomUUID()}/operations`, JSON.stringify(tagCreates(1)));
    await post(`/libraries/${randomUUID()}/operations`, '[]');
    // Refused before the body is read: no route handling, no observation (as on Express).
    await post(`/libraries/${randomUUID()}/operations`, '[]', { 'content-type': 'text/plain' });
    expect([await count(202), await count(422), await count(415)]).toEqual([
      accepted + 1,
      refused + 1,
      unparsed,
    ]);
    const docs = await fetch(`${ingest.url}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger-ui/i);
  });
});
