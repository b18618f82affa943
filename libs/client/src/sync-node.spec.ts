import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hybridFromMillis } from '@sync/protocol';
import {
  LocalRejectionError,
  LocalValidationError,
  SyncApiError,
  SyncNetworkError,
} from './errors';
import type { Operation } from './protocol';
import { JsonFileStore } from './store/json-file-store';
import type { LocalStore } from './store/local-store';
import { MemoryStore } from './store/memory-store';
import { SyncNode, type SyncNodeOptions } from './sync-node';
import { FlakyTransport, InMemorySyncServer } from './testing';
import type { FeedPage, PullRequest, PushResult, SyncTransport } from './transport/sync-transport';

const LIB = '22222222-2222-4222-8222-222222222222';
const T0 = 1_700_000_000_000;

/** A shared manual clock: `at(skew)` is a node's wall clock, skewed by `skew` ms. */
function manualTime() {
  const clock = { ms: T0, at: (skew: number) => () => clock.ms + skew };
  return clock;
}

/** Records what the node asks of the transport, passing everything through. */
class RecordingTransport implements SyncTransport {
  readonly pushes: Operation[][] = [];
  readonly pulls: PullRequest[] = [];
  constructor(private readonly inner: SyncTransport) {}
  push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    this.pushes.push([...ops]);
    return this.inner.push(libraryId, ops);
  }
  pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    this.pulls.push({ ...request });
    return this.inner.pull(libraryId, request);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function open(
  server: SyncTransport,
  time: ReturnType<typeof manualTime>,
  skew = 0,
  extra: Partial<SyncNodeOptions> = {},
) {
  return SyncNode.open({ libraryId: LIB, transport: server, now: time.at(skew), ...extra });
}

describe('SyncNode op builders', () => {
  it('stamps ops with its node id and strictly increasing hybrids from its own clock', async () => {
    const time = manualTime();
    const node = await open(new InMemorySyncServer(), time, 120_000);
    const tag = await node.create('Tag', { name: 'work', color: '#f00' });
    const [rename] = await node.update('Tag', tag.recordId, { name: 'home' });
    const del = await node.delete('Tag', tag.recordId);
    expect(tag).toMatchObject({ type: 'CREATE', model: 'Tag', node: node.nodeId });
    expect(rename).toMatchObject({ type: 'UPDATE', field: 'name', value: 'home', model: 'Tag' });
    expect(del).toMatchObject({ type: 'DELETE', recordId: tag.recordId });
    // All three in the same millisecond: the counter bits keep them apart and ordered.
    expect(tag.timestamp.hybrid).toBe(hybridFromMillis(T0 + 120_000).toString());
    expect(BigInt(rename.timestamp.hybrid)).toBe(BigInt(tag.timestamp.hybrid) + 1n);
    expect(BigInt(del.timestamp.hybrid)).toBe(BigInt(tag.timestamp.hybrid) + 2n);
    expect(node.outbox()).toEqual([tag, rename, del]);
  });

  it('applies own edits to the local state at once, before any sync', async () => {
    const node = await open(new InMemorySyncServer(), manualTime());
    const object = await node.create('Object', { note: 'cat.jpg', favorite: true });
    const tag = await node.create('Tag', { name: 'pets' });
    await node.link('TagOnObject', object.recordId, tag.recordId, { date_created: '2024-05-01' });
    await node.updateLink('TagOnObject', object.recordId, tag.recordId, { date_created: null });
    expect(node.record(object.recordId, 'Object')?.data).toMatchObject({
      note: 'cat.jpg',
      favorite: true,
      kind: null,
    });
    expect(node.record(object.recordId, 'Tag')).toBeUndefined();
    expect(node.relations({ relation: 'TagOnObject' })).toEqual([
      {
        relation: 'TagOnObject',
        item: object.recordId,
        group: tag.recordId,
        data: { date_created: null },
      },
    ]);
    await node.unlink('TagOnObject', object.recordId, tag.recordId);
    expect(node.relations()).toEqual([]);
    expect(node.confirmedState()).toEqual({ records: [], relations: [] });
  });

  it('refuses ops the schema rejects, with their paths, and queues nothing', async () => {
    const node = await open(new InMemorySyncServer(), manualTime());
    const error = await rejection(
      node.create('Tag', { name: 42 as unknown as string, shade: 'x' } as never),
    );
    expect(error).toBeInstanceOf(LocalValidationError);
    expect((error as LocalValidationError).issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ index: 0, path: 'data.name' }),
        expect.objectContaining({ index: 0, path: 'data.shade' }),
      ]),
    );
    await expect(node.create('Nope' as 'Tag', {})).rejects.toThrow(LocalValidationError);
    expect(node.outbox()).toEqual([]);
    expect(node.records()).toEqual([]);
  });

  it('refuses edits the merge engine would reject (another model, another owner)', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const a = await open(server, time);
    const b = await open(server, time);
    const location = await a.create('Location', { name: 'NAS', path: '/mnt/nas' });
    await a.sync();
    await b.sync();
    expect(b.record(location.recordId)?.data.name).toBe('NAS');

    const notOwner = await rejection(b.update('Location', location.recordId, { name: 'mine' }));
    expect(notOwner).toBeInstanceOf(LocalRejectionError);
    expect((notOwner as LocalRejectionError).reason).toBe('NOT_OWNER');
    await expect(b.delete('Location', location.recordId)).rejects.toMatchObject({
      rejections: [expect.objectContaining({ reason: 'NOT_OWNER' })],
    });
    const mismatch = await rejection(b.update('Tag', location.recordId, { name: 'x' }));
    expect((mismatch as LocalRejectionError).reason).toBe('MODEL_MISMATCH');
    expect(b.outbox()).toEqual([]);
    // The owner may edit its own record.
    await a.update('Location', location.recordId, { name: 'NAS 2' });
    expect(a.outbox()).toHaveLength(1);
  });

  it('writes a multi-field update all or nothing', async () => {
    const node = await open(new InMemorySyncServer(), manualTime());
    const tag = await node.create('Tag', { name: 'a' });
    await expect(
      node.update('Tag', tag.recordId, { name: 'b', is_hidden: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ issues: [expect.objectContaining({ index: 1, path: 'value' })] });
    expect(node.outbox()).toHaveLength(1);
    expect(node.record(tag.recordId)?.data.name).toBe('a');
  });
});

describe('SyncNode sync', () => {
  it('pushes, pulls and converges two nodes; reads its own writes through minOffset', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const recorded = new RecordingTransport(server);
    const a = await open(recorded, time);
    const b = await open(server, time);
    const tag = await a.create('Tag', { name: 'work' });
    await b.create('Object', { note: 'b' });

    const report = await a.sync();
    expect(report).toMatchObject({ pushed: 1, batches: 1, pulled: 1, applied: 0 });
    // The pull after the push waits for the push's last offset to be applied.
    expect(recorded.pulls[0]).toMatchObject({ after: null, minOffset: 0n });
    expect(a.outbox()).toEqual([]);
    expect(a.unconfirmed()).toEqual([]);

    expect(await b.sync()).toMatchObject({ pushed: 1, pulled: 2, applied: 1 });
    expect((await a.sync()).applied).toBe(1);
    expect(recorded.pulls[1]).toMatchObject({ after: 0n });
    expect(recorded.pulls[1].minOffset).toBeUndefined();
    expect(a.state()).toEqual(server.state(LIB));
    expect(b.state()).toEqual(server.state(LIB));
    expect(a.record(tag.recordId)?.data.name).toBe('work');
  });

  it('re-sends the outbox after a lost answer without duplicating anything', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const flaky = new FlakyTransport(server);
    const a = await open(flaky, time);
    const tag = await a.create('Tag', { name: 'x' });
    const [rename] = await a.update('Tag', tag.recordId, { name: 'y' });

    // The server publishes the batch, but the answer is lost: the node cannot know.
    flaky.failNextPush('lost-answer');
    await expect(a.sync()).rejects.toThrow(SyncNetworkError);
    expect(server.feed(LIB)).toHaveLength(2);
    expect(a.outbox()).toEqual([tag, rename]);

    const report = await a.sync();
    expect(report).toMatchObject({ pushed: 2, pulled: 2, rejectedByServer: [] });
    expect(server.published(LIB)).toBe(4);
    expect(server.duplicates(LIB)).toHaveLength(2);
    expect(server.rejected(LIB)).toEqual([]);
    expect(server.feed(LIB).map((e) => e.op)).toEqual([tag, rename]);
    expect(a.outbox()).toEqual([]);
    // The re-sent batch's offsets are past the end of the feed: the cursor still covers them.
    expect(a.unconfirmed()).toEqual([]);
    expect(a.pulledThrough).toBe('3');

    const b = await open(server, time);
    await b.sync();
    expect(b.state()).toEqual(a.state());
    expect(b.record(tag.recordId)?.data.name).toBe('y');
  });

  it('keeps the outbox when the request never arrived, and sends it once later', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const flaky = new FlakyTransport(server);
    const a = await open(flaky, time);
    await a.create('Tag', { name: 'x' });
    flaky.failNextPush('lost-request');
    await expect(a.push()).rejects.toThrow(SyncNetworkError);
    expect(server.published(LIB)).toBe(0);
    await a.sync();
    expect(server.published(LIB)).toBe(1);
    expect(server.duplicates(LIB)).toEqual([]);
  });

  it('pushes in batches of at most 1000 ops, in order', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const recorded = new RecordingTransport(server);
    const node = await open(recorded, time);
    await node.write(
      Array.from({ length: 2500 }, (_, i) => ({
        type: 'CREATE' as const,
        recordId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        model: 'Label',
        data: { name: `l${i}` },
      })),
    );
    const report = await node.sync();
    expect(report).toMatchObject({ pushed: 2500, batches: 3, pulled: 2500, pages: 3 });
    expect(recorded.pushes.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(recorded.pushes.flat()).toEqual(server.feed(LIB).map((e) => e.op));
    expect(node.records('Label')).toHaveLength(2500);
  });

  it('follows feed pages until caught up', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const a = await open(server, time);
    for (let i = 0; i < 7; i++) await a.create('Album', { name: `album ${i}` });
    await a.sync();
    const recorded = new RecordingTransport(server);
    const b = await open(recorded, time, 0, { pullPageSize: 2 });
    const report = await b.pull();
    expect(report).toMatchObject({ pulled: 7, applied: 7, pages: 4, cursor: '6' });
    expect(recorded.pulls.map((p) => p.after)).toEqual([null, 1n, 3n, 5n]);
    expect(b.state()).toEqual(a.state());
    // Nothing new: one request, nothing applied.
    expect(await b.pull()).toMatchObject({ pulled: 0, pages: 1, cursor: '6' });
  });

  it('drops an own op the server rejected once the feed has passed it, and says so', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const a = await open(server, time);
    const b = await open(server, time, 30_000);
    // Both create the same id offline, as different models: the first in log order wins (R4).
    const id = '33333333-3333-4333-8333-333333333333';
    await a.create('Tag', { name: 'tag' }, { id });
    const bCreate = await b.create('Object', { note: 'object' }, { id });
    const [bUpdate] = await b.update('Object', id, { favorite: true });
    expect(b.record(id)?.model).toBe('Object');

    await a.sync();
    const report = await b.sync();
    expect(report.rejectedByServer).toEqual([bCreate, bUpdate]);
    expect(server.rejected(LIB).map((r) => r.reason)).toEqual(['MODEL_MISMATCH', 'MODEL_MISMATCH']);
    expect(b.record(id)).toEqual({
      id,
      model: 'Tag',
      data: expect.objectContaining({ name: 'tag' }),
    });
    expect(b.state()).toEqual(server.state(LIB));
    expect(b.unconfirmed()).toEqual([]);
  });

  it('lets the app discard outbox ops the server keeps refusing', async () => {
    const time = manualTime();
    const node = await open(new InMemorySyncServer({ now: time.at(0) }), time);
    const keep = await node.create('Tag', { name: 'keep' });
    const drop = await node.create('Tag', { name: 'drop' });
    const dropped = await node.discardOutbox((op) => op === drop);
    expect(dropped).toEqual([drop]);
    expect(node.outbox()).toEqual([keep]);
    expect(node.records().map((r) => r.id)).toEqual([keep.recordId]);
  });
});

describe('SyncNode clock', () => {
  it('receive rule: a slow node jumps past remote hybrids, so its next edit wins', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const fast = await open(server, time, 120_000);
    const slow = await open(server, time, -90_000);
    const tag = await fast.create('Tag', { name: 'fast' });
    await fast.sync();
    expect(BigInt(slow.clockValue())).toBeLessThan(BigInt(tag.timestamp.hybrid));

    const report = await slow.sync();
    expect(report.driftWarnings).toEqual([]);
    expect(BigInt(slow.clockValue())).toBeGreaterThan(BigInt(tag.timestamp.hybrid));
    // The slow node's wall clock is 210 s behind the op it just saw; its rename still wins.
    const [rename] = await slow.update('Tag', tag.recordId, { name: 'slow' });
    expect(BigInt(rename.timestamp.hybrid)).toBeGreaterThan(BigInt(tag.timestamp.hybrid));
    await slow.sync();
    await fast.sync();
    expect(fast.record(tag.recordId)?.data.name).toBe('slow');
    expect(server.state(LIB).records[0].data.name).toBe('slow');
  });

  it('surfaces TIMESTAMP_DRIFT from the ingest and keeps the outbox until it passes', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const ahead = await open(server, time, 400_000);
    const tag = await ahead.create('Tag', { name: 'from the future' });
    const error = await rejection(ahead.sync());
    expect(error).toBeInstanceOf(SyncApiError);
    expect(error).toMatchObject({
      status: 422,
      code: 'TIMESTAMP_DRIFT',
      details: [expect.objectContaining({ index: 0 })],
    });
    expect(ahead.outbox()).toEqual([tag]);
    expect(server.published(LIB)).toBe(0);
    // Once the server's clock is within 300 s of the stamp, the same op goes through.
    time.ms += 100_001;
    expect(await ahead.sync()).toMatchObject({ pushed: 1 });
    expect(ahead.outbox()).toEqual([]);
  });

  it('applies a pulled op beyond its drift bound but reports it and keeps its clock', async () => {
    const time = manualTime();
    // A server that tolerates more drift than the node does.
    const server = new InMemorySyncServer({ now: time.at(0), maxDriftMs: 600_000 });
    const ahead = await open(server, time, 400_000);
    const node = await open(server, time, 0);
    const tag = await ahead.create('Tag', { name: 'far ahead' });
    await ahead.sync();

    const report = await node.sync();
    expect(report.driftWarnings).toEqual([
      {
        offset: '0',
        node: ahead.nodeId,
        hybrid: tag.timestamp.hybrid,
        driftMs: 400_000,
      },
    ]);
    expect(node.record(tag.recordId)?.data.name).toBe('far ahead');
    expect(BigInt(node.clockValue())).toBeLessThan(BigInt(tag.timestamp.hybrid));
    // Its own ops stay within what the ingest accepts.
    await node.create('Tag', { name: 'mine' });
    await expect(node.sync()).resolves.toMatchObject({ pushed: 1 });
  });
});

describe('SyncNode persistence', () => {
  async function roundTrip(store: () => LocalStore): Promise<void> {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const other = await open(server, time);
    await other.create('Tag', { name: 'remote' });
    await other.sync();

    const first = await open(server, time, 0, { store: store() });
    const synced = await first.create('Object', { note: 'synced' });
    await first.sync();
    const queued = await first.create('Tag', { name: 'queued' });
    await first.flush();
    const clockBefore = BigInt(first.clockValue());

    const reopened = await open(server, time, 0, { store: store() });
    expect(reopened.nodeId).toBe(first.nodeId);
    expect(reopened.outbox()).toEqual([queued]);
    expect(reopened.pulledThrough).toBe(first.pulledThrough);
    expect(reopened.state()).toEqual(first.state());
    expect(reopened.confirmedState()).toEqual(first.confirmedState());
    expect(reopened.record(synced.recordId)?.data.note).toBe('synced');
    // The clock resumes where it stopped even though the wall clock has not moved.
    const next = await reopened.create('Tag', { name: 'after restart' });
    expect(BigInt(next.timestamp.hybrid)).toBeGreaterThan(clockBefore);

    await reopened.sync();
    await other.sync();
    expect(other.state()).toEqual(reopened.state());
    expect(server.duplicates(LIB)).toEqual([]);

    await expect(
      open(server, time, 0, { store: store(), nodeId: '44444444-4444-4444-8444-444444444444' }),
    ).rejects.toThrow(/belongs to node/);
    await expect(
      SyncNode.open({
        libraryId: '55555555-5555-4555-8555-555555555555',
        transport: server,
        store: store(),
      }),
    ).rejects.toThrow(/belongs to library/);
  }

  it('reopens from a MemoryStore with the same id, outbox, cursor, state and clock', async () => {
    const store = new MemoryStore();
    await roundTrip(() => store);
  });

  it('reopens from a JsonFileStore directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sync-client-'));
    try {
      await roundTrip(() => new JsonFileStore(join(dir, 'node')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens a store of format 1 (no snapshot lines) and refuses one newer than it writes', async () => {
    const time = manualTime();
    const server = new InMemorySyncServer({ now: time.at(0) });
    const store = new MemoryStore();
    const first = await open(server, time, 0, { store });
    await first.create('Tag', { name: 'kept' });
    await first.sync();
    await first.flush();
    const saved = await store.load();
    const older = new MemoryStore();
    await older.saveJournal({ ...saved.journal!, version: 1 });
    await older.saveReplica({ ...saved.replica!, version: 1 });
    const reopened = await open(server, time, 0, { store: older });
    expect(reopened.state()).toEqual(first.state());

    const newer = new MemoryStore();
    await newer.saveJournal({ ...saved.journal!, version: 4 as 3 });
    await expect(open(server, time, 0, { store: newer })).rejects.toThrow(
      'store format 4 is not supported',
    );
  });

  it('keeps the node id it was given and saves it before the first edit', async () => {
    const store = new MemoryStore();
    const nodeId = '66666666-6666-4666-8666-66666666666A';
    const node = await SyncNode.open({
      libraryId: LIB,
      transport: new InMemorySyncServer(),
      store,
      nodeId,
    });
    expect(node.nodeId).toBe(nodeId.toLowerCase());
    expect((await store.load()).journal?.nodeId).toBe(nodeId.toLowerCase());
  });
});
