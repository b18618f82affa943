import { randomUUID } from 'node:crypto';
import { ChangesService } from '../apps/query/src/changes.service';
import { SseReader } from './support/sse-reader';
import { eventually } from './support/test-env';
import { type Pipeline, op, startPipeline } from './snapshot-fixtures';

describe('GET /libraries/{id}/changes (SSE, real Kafka and Postgres)', () => {
  let p: Pipeline;
  const readers: SseReader[] = [];
  const open = async (path: string, headers?: Record<string, string>) => {
    const reader = await SseReader.open(`${p.queryUrl}${path}`, headers);
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    p = await startPipeline('changes');
  }, 120_000);

  afterAll(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await p?.close();
  });

  it('streams current rows, then live changes, and resumes after Last-Event-ID', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const [o1, o2, t1] = [randomUUID(), randomUUID(), randomUUID()];
    const first = await p.post(lib, [
      op.create(A, o1, 'Object', { note: 'one' }),
      op.create(A, t1, 'Tag', { name: 'pets' }),
      op.link(A, 'TagOnObject', o1, t1),
    ]);

    const live = await open(`/libraries/${lib}/changes?minOffset=${first.lastOffset}&waitMs=20000`);
    expect(live.status).toBe(200);
    await eventually(() => Promise.resolve(live.events.length >= 3 ? true : undefined), 10_000);
    expect(live.events.map((e) => e.event)).toEqual(['record', 'record', 'relation']);
    expect(live.events[2].data).toEqual({
      type: 'relation',
      offset: expect.any(String),
      relation: 'TagOnObject',
      item: o1,
      group: t1,
      visible: true,
      data: { date_created: null },
    });
    // Ids only on the last event of an offset; offsets never go down.
    const offsets = live.events.map((e) => BigInt(e.data.offset as string));
    expect([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(offsets);
    for (const [i, e] of live.events.entries()) {
      const lastOfOffset =
        i === live.events.length - 1 || live.events[i + 1].data.offset !== e.data.offset;
      expect(e.id).toBe(lastOfOffset ? e.data.offset : undefined);
    }

    // Live: deleting the tag hides the link too (L3), without the link itself being touched.
    const second = await p.post(lib, [op.update(A, o1, 'note', 'uno'), op.remove(A, t1)]);
    await eventually(() => Promise.resolve(live.events.length >= 6 ? true : undefined), 10_000);
    const news = live.events.slice(3);
    expect(news.map((e) => [e.event, e.data.id ?? e.data.group])).toEqual([
      ['record', o1],
      ['record', t1],
      ['relation', t1],
    ]);
    expect(news[0].data).toMatchObject({ deleted: false, data: { note: 'uno' } });
    expect(news[1].data).toEqual({
      type: 'record',
      offset: expect.any(String),
      id: t1,
      model: 'Tag',
      deleted: true,
      data: null,
    });
    expect(news[2].data).toMatchObject({ visible: false, data: null, offset: news[1].data.offset });
    expect(BigInt(live.lastEventId!)).toBeLessThanOrEqual(BigInt(second.lastOffset));
    const resumeFrom = live.lastEventId!;
    await live.close();

    // While disconnected.
    const third = await p.post(lib, [op.create(A, o2, 'Object', { note: 'two' })]);
    const resumed = await open(`/libraries/${lib}/changes?after=-1`, {
      'Last-Event-ID': resumeFrom,
    });
    await eventually(() => Promise.resolve(resumed.events.length >= 1 ? true : undefined), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing older may follow
    expect(resumed.events.map((e) => e.data.id)).toEqual([o2]);
    expect(resumed.events[0].id).toBe(third.lastOffset);
  }, 60_000);

  it('sends heartbeats and lets go of a stream when the client disconnects', async () => {
    const service = p.query.get(ChangesService);
    const before = service.openStreams;
    service.heartbeatMs = 100;
    try {
      const reader = await open(`/libraries/${randomUUID()}/changes`);
      await eventually(
        () => Promise.resolve(reader.comments.includes('heartbeat') ? true : undefined),
        5000,
      );
      expect(service.openStreams).toBe(before + 1);
      await reader.close();
      await eventually(
        () => Promise.resolve(service.openStreams === before ? true : undefined),
        5000,
      );
    } finally {
      service.heartbeatMs = 15_000;
    }
  });

  it('refuses a bad resume point with the contract error body', async () => {
    const lib = randomUUID();
    const bad = await open(`/libraries/${lib}/changes`, { 'Last-Event-ID': 'yesterday' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({
      error: 'INVALID_PARAMETER',
      details: [expect.objectContaining({ path: 'Last-Event-ID' })],
    });
    const after = await open(`/libraries/${lib}/changes?after=x`);
    expect(after.status).toBe(400);
    const late = await open(`/libraries/${lib}/changes?minOffset=999999999&waitMs=50`);
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body)).toMatchObject({ error: 'NOT_YET_APPLIED' });
  });
});
