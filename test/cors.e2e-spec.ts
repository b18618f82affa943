import { randomUUID } from 'node:crypto';
import { type Pipeline, op, startPipeline } from './snapshot-fixtures';

const APP = 'http://localhost:5173';
const OTHER = 'http://evil.test';

const corsHeaders = (res: Response) =>
  [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));

/** CORS on the routes a browser client uses, against real ingest and query services. */
describe('CORS (SYNC_CORS_ORIGINS, real Kafka and Postgres)', () => {
  let p: Pipeline;
  const libraryId = randomUUID();
  const node = randomUUID();

  beforeAll(async () => {
    p = await startPipeline('cors', 1, { SYNC_CORS_ORIGINS: `${APP},https://app.example.com` });
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  const preflight = (url: string, origin: string, method: string, headers?: string) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': method,
        ...(headers ? { 'Access-Control-Request-Headers': headers } : {}),
      },
    });

  it('answers the preflight of a keyed JSON POST of ops with 204 for an allowed origin', async () => {
    const res = await preflight(
      `${p.ingestUrl}/libraries/${libraryId}/operations`,
      APP,
      'POST',
      'authorization,content-type',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('answers the preflight of a resumed changes stream on the query service', async () => {
    const res = await preflight(
      `${p.queryUrl}/libraries/${libraryId}/changes`,
      APP,
      'GET',
      'authorization,last-event-id',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Last-Event-ID/);
  });

  it('gives another origin no CORS header on a preflight', async () => {
    for (const url of [
      `${p.ingestUrl}/libraries/${libraryId}/operations`,
      `${p.queryUrl}/health`,
    ]) {
      const res = await preflight(url, OTHER, 'POST', 'authorization,content-type');
      expect(res.status).toBe(204);
      expect(corsHeaders(res)).toEqual([]);
    }
  });

  it('marks a POST, the feed, the snapshot, the digest and an error answer for the allowed origin only', async () => {
    const tag = randomUUID();
    const post = await fetch(`${p.ingestUrl}/libraries/${libraryId}/operations`, {
      method: 'POST',
      headers: { Origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify([op.create(node, tag, 'Tag', { name: 'cors' })]),
    });
    expect(post.status).toBe(202);
    expect(post.headers.get('access-control-allow-origin')).toBe(APP);
    expect(post.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const { lastOffset } = (await post.json()) as { lastOffset: string };

    const reads = [
      `/libraries/${libraryId}/operations?minOffset=${lastOffset}`,
      `/libraries/${libraryId}/snapshot`,
      `/libraries/${libraryId}/digest`,
      `/libraries/${libraryId}/records?model=Nope`, // 400: errors must be readable too
    ];
    for (const path of reads) {
      const allowed = await fetch(`${p.queryUrl}${path}`, { headers: { Origin: APP } });
      await allowed.arrayBuffer();
      expect({ path, origin: allowed.headers.get('access-control-allow-origin') }).toEqual({
        path,
        origin: APP,
      });
      const other = await fetch(`${p.queryUrl}${path}`, { headers: { Origin: OTHER } });
      await other.arrayBuffer();
      expect({ path, cors: corsHeaders(other) }).toEqual({ path, cors: [] });
      expect(other.status).toBe(allowed.status);
    }
  });

  it('marks the SSE changes stream for the allowed origin', async () => {
    const abort = new AbortController();
    const res = await fetch(`${p.queryUrl}/libraries/${libraryId}/changes`, {
      headers: { Origin: 'https://app.example.com', Accept: 'text/event-stream' },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    abort.abort();
    await res.body?.cancel().catch(() => undefined);
  });
});
