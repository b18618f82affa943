import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  type LoggedOperation,
  type Operation,
  defaultSchema,
  emptySlice,
  mergeBatch,
} from '@sync/protocol';
import { decodeSnapshot } from '../libs/client/src/replica/snapshot-slice';
import { type Pipeline, op, readFeed, startPipeline } from './snapshot-fixtures';

const schema = defaultSchema();

/** One GET with raw bytes as the socket carried them (no transparent decompression). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('GET /snapshot streaming: compression and one consistent view', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline('snapstream');
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  it('answers gzip or br when accepted, with exactly the bytes of the plain answer', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const tag = randomUUID();
    const ops: unknown[] = [op.create(A, tag, 'Tag', { name: 'tab\there "quoted" \u2028 ünï' })];
    for (let i = 0; i < 600; i++) {
      const id = randomUUID();
      ops.push(op.create(A, id, 'Object', { kind: i, note: `n${i}\n\\` }));
      if (i % 3 === 0) ops.push(op.link(A, 'TagOnObject', id, tag));
    }
    const batch = await p.post(lib, ops);
    const path = `${p.queryUrl}/libraries/${lib}/snapshot?minOffset=${batch.lastOffset}&waitMs=20000`;
    const plain = await rawGet(path, {});
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['vary']).toBe('Accept-Encoding');
    const text = plain.body.toString('utf8');
    expect(text.trimEnd().split('\n').pop()).toBe(
      JSON.stringify({ type: 'end', records: 601, relations: 200, pending: 0 }),
    );
    const gzip = await rawGet(path, { 'accept-encoding': 'gzip, deflate' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.body.length).toBeLessThan(plain.body.length / 3);
    expect(gunzipSync(gzip.body).toString('utf8')).toBe(text);
    const br = await rawGet(path, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString('utf8')).toBe(text);
    const identity = await rawGet(path, { 'accept-encoding': 'gzip;q=0, br;q=0' });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body.toString('utf8')).toBe(text);
  }, 90_000);

  it('is one consistent view while the projector writes: each snapshot equals the replay through its offset', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const ids = Array.from({ length: 40 }, () => randomUUID());
    await p.post(
      lib,
      ids.map((id) => op.create(A, id, 'Object', { kind: 0 })),
    );
    let writing = true;
    let last = '';
    const writer = (async () => {
      for (let round = 1; round <= 40; round++) {
        // Every batch touches every record: a torn read would mix two rounds.
        const batch = await p.post(
          lib,
          ids.map((id) => op.update(A, id, 'kind', round)),
        );
        last = batch.lastOffset;
      }
      writing = false;
    })();
    const snapshots: string[] = [];
    while (writing) {
      const res = await fetch(`${p.queryUrl}/libraries/${lib}/snapshot`, {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(res.status).toBe(200);
      snapshots.push(await res.text());
    }
    await writer;
    const feed: LoggedOperation[] = (await readFeed(p, lib, null, last)).map((e) => ({
      offset: BigInt(e.offset),
      op: e.operation as unknown as Operation,
    }));
    expect(snapshots.length).toBeGreaterThan(1);
    const offsets = new Set<string | null>();
    for (const text of snapshots) {
      const snapshot = decodeSnapshot(text);
      offsets.add(snapshot.header.offset);
      const through = feed.filter((e) => snapshot.offset !== null && e.offset <= snapshot.offset);
      const replay = mergeBatch(schema, emptySlice(), through).slice;
      // The client keeps records packed (PackedRecords); compare the rows, not the container.
      expect(new Map(snapshot.slice.records)).toEqual(replay.records);
      expect(snapshot.slice.relations).toEqual(replay.relations);
      const kinds = new Set(
        [...snapshot.slice.records.values()].map((r) => r.fields['kind']?.value),
      );
      expect(kinds.size).toBeLessThanOrEqual(1);
    }
    // The snapshots really were taken at different points of the writes.
    expect(offsets.size).toBeGreaterThan(1);
  }, 120_000);

  it('frees the database connection of a reader that goes away mid-stream', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const ops: unknown[] = [];
    for (let i = 0; i < 3000; i++) {
      ops.push(op.create(A, randomUUID(), 'Object', { kind: i, note: 'x'.repeat(200) }));
    }
    const batch = await p.post(lib, ops);
    const path = `${p.queryUrl}/libraries/${lib}/snapshot?minOffset=${batch.lastOffset}&waitMs=20000`;
    // More cut readers than the pool has connections (QUERY_DB_POOL_SIZE, 10).
    for (let i = 0; i < 15; i++) {
      const controller = new AbortController();
      // A leaked connection would leave later requests waiting: fail, do not hang.
      const res = await fetch(path, {
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)]),
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
    }
    const whole = await fetch(path, { signal: AbortSignal.timeout(20_000) });
    const text = await whole.text();
    expect(text.trimEnd().split('\n').pop()).toBe(
      JSON.stringify({ type: 'end', records: 3000, relations: 0, pending: 0 }),
    );
    const feed = await fetch(`${p.queryUrl}/libraries/${lib}/operations?limit=5`, {
      signal: AbortSignal.timeout(20_000),
    });
    expect(feed.status).toBe(200);
  }, 120_000);
});
