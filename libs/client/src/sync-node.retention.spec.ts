import { SyncApiError } from './errors';
import { SyncNode } from './sync-node';
import { InMemorySyncServer } from './testing';
import type { FeedPage, PullRequest, PushResult, SyncTransport } from './transport/sync-transport';
import type { Operation } from './protocol';

const LIB = '33333333-3333-4333-8333-333333333333';
const T0 = 1_700_000_000_000;

/** The server without snapshot(): a node cannot re-bootstrap through it. */
class FeedOnlyTransport implements SyncTransport {
  constructor(private readonly inner: SyncTransport) {}
  push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    return this.inner.push(libraryId, ops);
  }
  pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    return this.inner.pull(libraryId, request);
  }
}

describe('SyncNode and a compacted op log', () => {
  let ms: number;
  let server: InMemorySyncServer;
  const tick = () => (ms += 7);
  const open = (transport: SyncTransport = server) =>
    SyncNode.open({ libraryId: LIB, transport, now: () => ms, pullPageSize: 3 });

  beforeEach(() => {
    ms = T0;
    server = new InMemorySyncServer({ now: () => ms });
  });

  /** A writes a tag and rewrites its name `times` times, syncing each time. */
  async function churn(node: SyncNode, tagId: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      tick();
      await node.update('Tag', tagId, { name: `name ${i}` });
      await node.sync();
    }
  }

  it('reports node positions on pull, and a node at the horizon keeps pulling normally', async () => {
    const a = await open();
    const b = await open();
    const tag = await a.create('Tag', { name: 'first', color: 'red' });
    await churn(a, tag.recordId, 5);
    await b.sync();
    await churn(a, tag.recordId, 5);
    await a.sync();

    // B's reported position (the `after` of its last request, an acknowledgement of what it
    // holds) holds the horizon back: compaction drops nothing B has not seen.
    const { horizon, removed } = server.compact(LIB);
    expect(horizon).toBeGreaterThan(0n);
    expect(horizon).toBeLessThanOrEqual(BigInt(b.pulledThrough as string) + 1n);
    expect(removed).toBeGreaterThan(0);

    const report = await b.sync();
    expect(report.rebootstrap).toBeUndefined();
    expect(b.state()).toEqual(server.state(LIB));
    expect(a.state()).toEqual(server.state(LIB));
  });

  it('a node behind the horizon re-bootstraps from the snapshot, keeping its outbox', async () => {
    const a = await open();
    const b = await open();
    const tag = await a.create('Tag', { name: 'first' });
    await a.sync();
    await b.sync();
    await churn(a, tag.recordId, 6);

    // B edits offline; one edit is pushed (acknowledged, not yet confirmed), one stays queued.
    tick();
    const object = await b.create('Object', { note: 'from b' });
    await b.push();
    tick();
    await b.update('Tag', tag.recordId, { color: 'blue' });

    const end = BigInt(server.feed(LIB).at(-1)?.offset ?? 0n) + 1n;
    const { horizon, removed } = server.compact(LIB, end);
    expect(horizon).toBe(end);
    expect(removed).toBeGreaterThan(0);

    const report = await b.pull();
    expect(report.rebootstrap?.horizon).toBe(horizon.toString());
    expect(report.rebootstrap?.settledBySnapshot).toEqual([object]);
    expect(report.rejectedByServer).toEqual([]);
    // The queued edit is still local and still shown.
    expect(b.outbox()).toHaveLength(1);
    expect(b.record(tag.recordId)?.data).toMatchObject({ name: 'name 5', color: 'blue' });
    expect(b.record(object.recordId)?.data).toMatchObject({ note: 'from b' });

    await b.sync();
    await a.sync();
    expect(b.outbox()).toEqual([]);
    expect(b.state()).toEqual(server.state(LIB));
    expect(a.state()).toEqual(server.state(LIB));
    expect(server.state(LIB).records.find((r) => r.id === tag.recordId)?.data).toMatchObject({
      color: 'blue',
    });
  });

  it('a new node bootstraps from the snapshot when the feed no longer starts at the beginning', async () => {
    const a = await open();
    const tag = await a.create('Tag', { name: 'first' });
    await churn(a, tag.recordId, 4);
    await a.link('TagOnObject', (await a.create('Object', {})).recordId, tag.recordId);
    await a.sync();
    server.compact(LIB);

    const fresh = await open();
    const report = await fresh.pull();
    expect(report.rebootstrap).toBeDefined();
    expect(fresh.state()).toEqual(server.state(LIB));
    // And it keeps merging the feed after the snapshot.
    await churn(a, tag.recordId, 2);
    await fresh.pull();
    expect(fresh.state()).toEqual(server.state(LIB));
  });

  it('compacted ops stay known: a re-send is a duplicate, changed content a conflict', async () => {
    const a = await open();
    const tag = await a.create('Tag', { name: 'first' });
    tick();
    const [old] = await a.update('Tag', tag.recordId, { name: 'old' });
    await churn(a, tag.recordId, 2);
    await a.sync();
    server.compact(LIB);
    expect(server.feed(LIB).map((e) => e.op)).not.toContainEqual(old);

    const before = server.state(LIB);
    const resent = await server.push(LIB, [old]);
    expect(server.duplicates(LIB)).toContain(resent.firstOffset);
    const changed = await server.push(LIB, [{ ...old, value: 'other' }]);
    expect(server.rejected(LIB).find((r) => r.offset === changed.firstOffset)?.reason).toBe(
      'DUPLICATE_CONFLICT',
    );
    expect(server.state(LIB)).toEqual(before);
  });

  it('without a snapshot-capable transport the 410 reaches the caller', async () => {
    const a = await open();
    const tag = await a.create('Tag', { name: 'first' });
    await churn(a, tag.recordId, 3);
    server.compact(LIB);
    const b = await open(new FeedOnlyTransport(server));
    const error = await b.pull().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SyncApiError);
    expect((error as SyncApiError).status).toBe(410);
    expect((error as SyncApiError).code).toBe('SNAPSHOT_REQUIRED');
  });
});
