import { randomUUID } from 'node:crypto';
import {
  type LoggedOperation,
  type Operation,
  defaultSchema,
  emptySlice,
  materializeSlice,
  mergeBatch,
} from '@sync/protocol';
import { SyncHttpTransport, SyncNode } from '../libs/client/src';
import { nodeFetch } from '../libs/client/src/node';
import { decodeSnapshot } from '../libs/client/src/replica/snapshot-slice';
import { TRANSPORT_CLIENT_TIMEOUT_MS } from './support/client-timeouts';
import {
  type Pipeline,
  hybrid,
  op,
  readFeed,
  startPipeline,
  usualClocks,
} from './snapshot-fixtures';

const schema = defaultSchema();

function logged(entries: { offset: string; operation: Record<string, unknown> }[]) {
  return entries.map((e): LoggedOperation => ({
    offset: BigInt(e.offset),
    op: e.operation as unknown as Operation,
  }));
}

async function snapshotText(
  p: Pipeline,
  path: string,
): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${p.queryUrl}${path}`);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text: await res.text(),
  };
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('GET /libraries/{id}/snapshot (real Kafka and Postgres)', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline('snapshot');
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  it('snapshot + feed after its offset merges to exactly the full replay and the server state', async () => {
    const lib = randomUUID();
    // In id order: the greatest hybrid (B's last op) is not the first node's (the header's clock).
    const [A, B, C] = [randomUUID(), randomUUID(), randomUUID()].sort();
    const [o1, o2, t1, t2, t3, al, loc, fp, ghost, ghostLoc] = Array.from({ length: 10 }, () =>
      randomUUID(),
    );
    // Taken first, so an UPDATE sent later with it is older than every write of batch one.
    const staleHybrid = hybrid();

    const batchOne = [
      op.create(A, o1, 'Object', { favorite: true, note: 'cat.jpg' }),
      op.create(A, o2, 'Object', { kind: 5 }),
      op.create(A, t1, 'Tag', { name: 'pets' }),
      op.create(B, t2, 'Tag', { name: 'work' }),
      op.create(A, al, 'Album', { name: 'summer' }),
      op.create(A, loc, 'Location', { name: 'disk', path: '/mnt' }),
      op.create(A, fp, 'FilePath', { name: 'cat', extension: 'jpg', location: loc, object: o1 }),
      op.link(A, 'TagOnObject', o1, t1, { date_created: '2024-05-01T10:00:00Z' }),
      op.link(A, 'TagOnObject', o2, t1),
      op.link(B, 'TagOnObject', o1, t2),
      op.link(A, 'ObjectInAlbum', o1, al),
      op.unlink(B, 'TagOnObject', o2, t1), // L1: present=false, kept with its clock
      op.update(B, t1, 'color', 'red'),
      op.remove(B, t2), // o1-t2 becomes invisible; t2 stays as a deleted record (R1)
      op.update(B, ghost, 'name', 'early'), // R3: pending until its CREATE
      op.update(B, ghostLoc, 'name', 'not yours'), // pending, then NOT_OWNER when A creates it
    ];
    const first = await p.post(lib, batchOne);
    const wait = `minOffset=${first.lastOffset}&waitMs=20000`;

    const full = await snapshotText(p, `/libraries/${lib}/snapshot?${wait}`);
    expect(full.status).toBe(200);
    expect(full.type).toMatch(/^application\/x-ndjson/);
    const visible = await snapshotText(p, `/libraries/${lib}/snapshot?view=visible&${wait}`);
    const serverAtSnapshot = {
      records: (await p.getJson<{ items: unknown[] }>(`/libraries/${lib}/records?limit=1000`))
        .items,
      relations: (await p.getJson<{ items: unknown[] }>(`/libraries/${lib}/relations?limit=1000`))
        .items,
    };

    const fullLines = lines(full.text);
    expect(fullLines[0]).toEqual({
      type: 'snapshot',
      libraryId: lib,
      partition: first.partition,
      offset: expect.any(String),
      clock: expect.any(String),
      view: 'full',
    });
    expect(BigInt(fullLines[0].offset as string)).toBeGreaterThanOrEqual(BigInt(first.lastOffset));
    const greatest = batchOne.reduce(
      (max, o) => (BigInt(o.timestamp.hybrid) > max ? BigInt(o.timestamp.hybrid) : max),
      0n,
    );
    expect(batchOne[batchOne.length - 1].node).toBe(B);
    expect(fullLines[0].clock).toBe(greatest.toString());
    expect(fullLines[fullLines.length - 1]).toEqual({
      type: 'end',
      records: 7, // o1 o2 t1 t2(deleted) al loc fp
      relations: 4,
      pending: 2,
    });
    const t2Line = fullLines.find((l) => l.id === t2);
    expect(t2Line).toMatchObject({ type: 'record', model: 'Tag', deleted: true, owner: null });
    expect(fullLines.find((l) => l.id === loc)).toMatchObject({ owner: A, deleted: false });
    expect(fullLines.find((l) => l.item === o2 && l.group === t1)).toMatchObject({
      present: false,
      visible: false,
    });

    // clocks=compact: the same lines (the projector stored every record's compact clocks), each
    // record's clocks one string saying what the object says; relation lines unchanged. With
    // asOf (built from the log) the same.
    const compact = await snapshotText(p, `/libraries/${lib}/snapshot?clocks=compact`);
    const compactLines = lines(compact.text);
    const asOf = `asOf=${fullLines[0].offset as string}`;
    const asOfLines = lines((await snapshotText(p, `/libraries/${lib}/snapshot?${asOf}`)).text);
    const asOfCompact = lines(
      (await snapshotText(p, `/libraries/${lib}/snapshot?${asOf}&clocks=compact`)).text,
    );
    for (const [usual, compacted] of [
      [fullLines, compactLines],
      [asOfLines, asOfCompact],
    ]) {
      const records = compacted.filter((l) => l.type === 'record');
      expect(records.length).toBe(7);
      expect(records.every((l) => typeof l.clocks === 'string')).toBe(true);
      const asUsual = compacted.map((l) =>
        l.type === 'record' ? { ...l, clocks: usualClocks(l.clocks) } : l,
      );
      expect(asUsual).toEqual(usual);
    }
    const slice = (text: string) => materializeSlice(schema, decodeSnapshot(text).slice);
    expect(slice(compact.text)).toEqual(slice(full.text));

    // The visible view is exactly what the list endpoints show at the same offset.
    const visibleLines = lines(visible.text);
    expect(visibleLines[0]).toMatchObject({ view: 'visible', offset: fullLines[0].offset });
    const strip = ({ type: _t, ...rest }: Record<string, unknown>) => rest;
    expect(visibleLines.filter((l) => l.type === 'record').map(strip)).toEqual(
      serverAtSnapshot.records,
    );
    expect(visibleLines.filter((l) => l.type === 'relation').map(strip)).toEqual(
      serverAtSnapshot.relations,
    );
    expect(visibleLines[visibleLines.length - 1]).toEqual({
      type: 'end',
      records: serverAtSnapshot.records.length,
      relations: serverAtSnapshot.relations.length,
    });

    const second = await p.post(lib, [
      op.create(A, ghost, 'Tag', { color: 'blue' }), // the pending name applies now
      op.create(A, ghostLoc, 'Location', { name: 'mine' }), // revokes B's pending update
      { ...op.update(C, t1, 'color', 'stale'), timestamp: { hybrid: staleHybrid } }, // loses (R2)
      op.update(A, t1, 'name', 'animals'),
      op.link(A, 'TagOnObject', o2, t1), // L1: linked again
      op.create(B, t2, 'Tag', { name: 'back?' }), // R1: stays deleted
      op.update(B, fp, 'name', 'stolen'), // NOT_OWNER
      op.update(B, t2, 'name', 'zombie'), // accepted, invisible
      op.link(A, 'TagOnObject', o2, t3), // waits for t3 (L3)
      op.create(C, t3, 'Tag', { name: 'late' }),
      op.remove(A, o1), // o1's links disappear
      op.create(A, randomUUID(), 'Label', { name: 'new' }),
    ]);

    const all = logged(await readFeed(p, lib, null, second.lastOffset));
    const after = logged(await readFeed(p, lib, fullLines[0].offset as string, second.lastOffset));
    expect(after.length).toBeLessThan(all.length);
    expect(after.every((e) => e.offset > BigInt(fullLines[0].offset as string))).toBe(true);

    const replay = materializeSlice(schema, mergeBatch(schema, emptySlice(), all).slice);
    const boot = decodeSnapshot(full.text);
    const continued = mergeBatch(schema, boot.slice, after);
    expect(continued.rejections).toEqual([
      expect.objectContaining({
        reason: 'NOT_OWNER',
        op: expect.objectContaining({ recordId: ghostLoc }),
      }),
    ]);
    const fromSnapshot = materializeSlice(schema, continued.slice);
    expect(fromSnapshot).toEqual(replay);

    const server = {
      records: (await p.getJson<{ items: unknown[] }>(`/libraries/${lib}/records?limit=1000`))
        .items,
      relations: (await p.getJson<{ items: unknown[] }>(`/libraries/${lib}/relations?limit=1000`))
        .items,
    };
    expect(fromSnapshot).toEqual(server);
    // The cases above really happened (so the equality is not trivially true).
    const tag1 = server.records.find((r) => (r as { id: string }).id === t1) as {
      data: Record<string, unknown>;
    };
    expect(tag1.data).toMatchObject({ name: 'animals', color: 'red' });
    expect(server.records.find((r) => (r as { id: string }).id === ghost)).toMatchObject({
      data: { name: 'early', color: 'blue' },
    });
    expect(server.relations).toEqual(
      expect.arrayContaining([expect.objectContaining({ item: o2, group: t3 })]),
    );
  }, 90_000);

  it('a client node bootstraps from the snapshot, pulls only what follows and keeps merging', async () => {
    const lib = randomUUID();
    const writerTransport = new SyncHttpTransport({
      ingestUrl: p.ingestUrl,
      queryUrl: p.queryUrl,
      timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS,
    });
    const writer = await SyncNode.open({ libraryId: lib, transport: writerTransport });
    const tag = await writer.create('Tag', { name: 'one' });
    const obj = await writer.create('Object', { note: 'o' });
    await writer.link('TagOnObject', obj.recordId, tag.recordId);
    for (let i = 0; i < 20; i++) await writer.update('Tag', tag.recordId, { color: `c${i}` });
    await writer.sync();

    const reader = await SyncNode.open({ libraryId: lib, transport: writerTransport });
    const boot = await reader.bootstrapFromSnapshot();
    expect(boot).toMatchObject({ records: 2, relations: 1 });
    expect(reader.pulledThrough).toBe(boot.offset);
    expect(reader.state()).toEqual(writer.state());
    // The clock moved past every op it saw, so the reader's edit wins over the writer's last one.
    await reader.update('Tag', tag.recordId, { color: 'reader' });
    await writer.update('Tag', tag.recordId, { name: 'two' });
    await writer.sync();
    const pulled = await reader.sync();
    expect(pulled.pulled).toBe(2); // the writer's UPDATE and the reader's own
    await writer.sync();
    expect(reader.state()).toEqual(writer.state());
    expect(reader.record(tag.recordId)?.data).toMatchObject({ name: 'two', color: 'reader' });
    await expect(reader.bootstrapFromSnapshot()).rejects.toThrow(/already pulled/);

    // The same over nodeFetch (node:http; the snapshot and feed come compressed).
    const overNodeHttp = await SyncNode.open({
      libraryId: lib,
      transport: new SyncHttpTransport({
        ingestUrl: p.ingestUrl,
        queryUrl: p.queryUrl,
        timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS,
        fetch: nodeFetch,
      }),
    });
    await overNodeHttp.bootstrapFromSnapshot();
    expect(overNodeHttp.state()).toEqual(writer.state());
    expect((await overNodeHttp.sync()).verified).toBe(true);
  }, 60_000);

  it('streams a large library in batches with counts that match', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const tag = randomUUID();
    const ops: unknown[] = [op.create(A, tag, 'Tag', { name: 'bulk' })];
    for (let i = 0; i < 2500; i++) {
      const id = randomUUID();
      ops.push(op.create(A, id, 'Object', { kind: i }));
      if (i % 2 === 0) ops.push(op.link(A, 'TagOnObject', id, tag));
    }
    const batch = await p.post(lib, ops);
    const res = await snapshotText(
      p,
      `/libraries/${lib}/snapshot?minOffset=${batch.lastOffset}&waitMs=20000`,
    );
    const got = lines(res.text);
    const records = got.filter((l) => l.type === 'record');
    expect(records).toHaveLength(2501);
    const ids = records.map((l) => l.id as string);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(2501);
    expect(got.filter((l) => l.type === 'relation')).toHaveLength(1250);
    expect(got[got.length - 1]).toEqual({
      type: 'end',
      records: 2501,
      relations: 1250,
      pending: 0,
    });

    // order=none: the same lines, kinds in the same order, rows in whatever order Postgres read
    // them (the library's rows were written in one batch, so heap order is not id order).
    const unordered = lines((await snapshotText(p, `/libraries/${lib}/snapshot?order=none`)).text);
    const kinds = (ls: typeof got) => ls.map((l) => l.type).join(',');
    expect(kinds(unordered)).toEqual(kinds(got));
    const byKey = (ls: typeof got) => ls.map((l) => JSON.stringify(l)).sort();
    expect(byKey(unordered)).toEqual(byKey(got));
    const unorderedIds = unordered.filter((l) => l.type === 'record').map((l) => l.id as string);
    expect(unorderedIds).not.toEqual(ids);
  }, 90_000);

  it('answers contract errors before streaming, and an empty snapshot for an unseen library', async () => {
    const bad = await snapshotText(p, `/libraries/not-a-uuid/snapshot`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: 'INVALID_LIBRARY_ID' });
    const lib = randomUUID();
    const view = await snapshotText(p, `/libraries/${lib}/snapshot?view=everything`);
    expect(view.status).toBe(400);
    expect(JSON.parse(view.text)).toMatchObject({
      error: 'INVALID_PARAMETER',
      details: [expect.objectContaining({ path: 'view' })],
    });
    const order = await snapshotText(p, `/libraries/${lib}/snapshot?order=random`);
    expect(order.status).toBe(400);
    expect(JSON.parse(order.text)).toMatchObject({
      error: 'INVALID_PARAMETER',
      details: [expect.objectContaining({ path: 'order' })],
    });
    const clocks = await snapshotText(p, `/libraries/${lib}/snapshot?clocks=tiny`);
    expect(clocks.status).toBe(400);
    expect(JSON.parse(clocks.text)).toMatchObject({
      error: 'INVALID_PARAMETER',
      details: [expect.objectContaining({ path: 'clocks' })],
    });
    const late = await snapshotText(p, `/libraries/${lib}/snapshot?minOffset=999999999&waitMs=50`);
    expect(late.status).toBe(503);
    expect(JSON.parse(late.text)).toMatchObject({ error: 'NOT_YET_APPLIED' });

    const empty = lines((await snapshotText(p, `/libraries/${lib}/snapshot`)).text);
    expect(empty[0]).toMatchObject({ type: 'snapshot', libraryId: lib, clock: null });
    expect(empty.slice(1)).toEqual([{ type: 'end', records: 0, relations: 0, pending: 0 }]);
  });
});
