import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { type Pipeline, op, readFeed, startPipeline } from './snapshot-fixtures';

/** GET .../operations in the NDJSON form: the lines and the end line. */
async function ndjsonFeed(p: Pipeline, libraryId: string, query: string) {
  const res = await fetch(`${p.queryUrl}/libraries/${libraryId}/operations?${query}`, {
    headers: { accept: 'application/x-ndjson' },
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, body: JSON.parse(text) as unknown };
  expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
  const lines = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: 200, items: lines.slice(0, -1), end: lines[lines.length - 1] };
}

describe('GET /libraries/{id}/operations as NDJSON (bigger pages)', () => {
  let p: Pipeline;
  let lib: string;
  let last: string;

  beforeAll(async () => {
    p = await startPipeline('feedstream');
    lib = randomUUID();
    const A = randomUUID();
    const ops: unknown[] = [];
    for (let i = 0; i < 2500; i++) {
      ops.push(op.create(A, randomUUID(), 'Object', { kind: i, note: `"quoted"\n${i}` }));
    }
    last = (await p.post(lib, ops)).lastOffset;
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  it('holds exactly the JSON pages’ ops, in pages bigger than the list limit', async () => {
    const json = await readFeed(p, lib, null, last);
    expect(json).toHaveLength(2500);
    const whole = await ndjsonFeed(p, lib, `limit=5000&minOffset=${last}`);
    expect(whole.items).toEqual(json);
    expect(whole.end).toEqual({ type: 'end', items: 2500, nextCursor: null });

    const first = await ndjsonFeed(p, lib, 'limit=1500');
    expect(first.items).toEqual(json.slice(0, 1500));
    expect(first.end).toMatchObject({ type: 'end', items: 1500 });
    const cursor = first.end?.nextCursor;
    expect(typeof cursor).toBe('string');
    const rest = await ndjsonFeed(
      p,
      lib,
      `limit=5000&cursor=${encodeURIComponent(String(cursor))}`,
    );
    expect(rest.items).toEqual(json.slice(1500));
    expect(rest.end).toEqual({ type: 'end', items: 1000, nextCursor: null });

    const after = await ndjsonFeed(p, lib, `after=${json[2399].offset}`);
    expect(after.items).toEqual(json.slice(2400, 2500));
    expect(after.end).toEqual({ type: 'end', items: 100, nextCursor: null });
  });

  it('keeps the contract limit for JSON, and the usual errors before streaming', async () => {
    const res = await fetch(`${p.queryUrl}/libraries/${lib}/operations?limit=1001`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'INVALID_PARAMETER' });
    const tooBig = await ndjsonFeed(p, lib, 'limit=100001');
    expect(tooBig).toMatchObject({ status: 400, body: { error: 'INVALID_PARAMETER' } });
    const empty = await ndjsonFeed(p, randomUUID(), 'limit=5000');
    expect(empty).toEqual({
      status: 200,
      items: [],
      end: { type: 'end', items: 0, nextCursor: null },
    });

    const db = new Client({ connectionString: p.env.DATABASE_URL });
    await db.connect();
    try {
      await db.query(`UPDATE libraries SET compacted_before = $2 WHERE library_id = $1`, [
        lib,
        last,
      ]);
      const gone = await ndjsonFeed(p, lib, 'after=-1&limit=5000');
      expect(gone).toMatchObject({ status: 410, body: { error: 'SNAPSHOT_REQUIRED' } });
    } finally {
      await db.query(`UPDATE libraries SET compacted_before = 0 WHERE library_id = $1`, [lib]);
      await db.end();
    }
  });
});
