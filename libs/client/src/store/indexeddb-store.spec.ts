import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { SyncNode } from '../sync-node';
import { InMemorySyncServer } from '../testing';
import {
  type IdbFactory,
  IndexedDbStore,
  StoreBusyError,
  type StoreLocks,
} from './indexeddb-store';
import type { StoredJournal } from './local-store';

const LIB = '33333333-3333-4333-8333-333333333333';

/*
 * The store under fake-indexeddb (an in-memory implementation of the IndexedDB API with real
 * transaction semantics: a transaction aborted before it commits leaves nothing behind).
 */

const openNode = (server: InMemorySyncServer, store: IndexedDbStore) =>
  SyncNode.open({ libraryId: LIB, transport: server, store, logger: { warn: () => undefined } });

/**
 * The next put of `key` is issued and then its transaction aborted before it commits: what a tab
 * closed in the middle of a write leaves behind.
 */
function crashDuringNextPut(key: string) {
  const proto = IDBObjectStore.prototype as unknown as { put: PutFn };
  const put = proto.put;
  const spy = jest.spyOn(proto, 'put').mockImplementation(function (
    this: ThisParameterType<PutFn>,
    value,
    target,
  ) {
    const request = put.call(this, value, target);
    if (target === key) {
      spy.mockRestore();
      this.transaction.abort();
    }
    return request;
  });
}

type PutFn = (this: { transaction: { abort(): void } }, value: unknown, key?: string) => unknown;

/** An exclusive LockManager with the ifAvailable option, as navigator.locks behaves. */
class FakeLocks implements StoreLocks {
  private readonly held = new Map<string, Promise<unknown>>();

  async request(
    name: string,
    options: { mode: 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    while (this.held.has(name)) {
      if (options.ifAvailable) return callback(null);
      await this.held.get(name);
    }
    const run = callback({ name });
    this.held.set(name, run);
    try {
      return await run;
    } finally {
      this.held.delete(name);
    }
  }
}

describe('IndexedDbStore', () => {
  let factory: IdbFactory;
  const store = (options: { locks?: StoreLocks | null; wait?: boolean } = {}) =>
    new IndexedDbStore('library-a', { indexedDB: factory, locks: null, ...options });

  beforeEach(() => {
    factory = new IDBFactory() as IdbFactory;
  });

  afterEach(() => jest.restoreAllMocks());

  it('reopens with the same node id, clock, outbox, replica and cursor', async () => {
    const server = new InMemorySyncServer();
    const first = await openNode(server, store());
    const tag = await first.create('Tag', { name: 'pets' });
    const photo = await first.create('Object', { note: 'cat.jpg' });
    await first.link('TagOnObject', photo.recordId, tag.recordId);
    const other = await SyncNode.open({ libraryId: LIB, transport: server });
    await other.create('Tag', { name: 'from elsewhere' });
    await other.sync();
    await first.sync();
    await first.update('Tag', tag.recordId, { name: 'animals' }); // stays in the outbox
    await first.flush();

    const reopened = await openNode(server, store());
    expect(reopened.nodeId).toBe(first.nodeId);
    expect(reopened.clockValue()).toBe(first.clockValue());
    expect(reopened.outbox()).toEqual(first.outbox());
    expect(reopened.outbox()).toHaveLength(1);
    expect(reopened.pulledThrough).toBe(first.pulledThrough);
    expect(reopened.confirmedState()).toEqual(first.confirmedState());
    expect(reopened.state()).toEqual(first.state());
    expect(reopened.digest()).toEqual(first.digest());

    await reopened.sync();
    await other.sync();
    expect(reopened.state()).toEqual(server.state(LIB));
    expect(other.state()).toEqual(server.state(LIB));
  });

  it('keeps a bootstrapped replica compact across a reopen', async () => {
    const server = new InMemorySyncServer();
    const writer = await SyncNode.open({ libraryId: LIB, transport: server });
    for (let i = 0; i < 20; i++) await writer.create('Tag', { name: `t${i}`, color: '#fff' });
    await writer.sync();
    const first = await openNode(server, store());
    await first.bootstrapFromSnapshot();
    await first.flush();
    const saved = await store().load();
    const records = saved.replica?.slice.records ?? [];
    expect(records).toHaveLength(20);
    expect(records.every((r) => 'compact' in r)).toBe(true);
    expect(saved.replica?.slice.compactTables?.kinds).toEqual([
      ['Tag', expect.arrayContaining(['name', 'color']) as unknown],
    ]);

    const reopened = await openNode(server, store());
    expect(reopened.confirmedState()).toEqual(first.confirmedState());
    expect(reopened.digest()).toEqual(first.digest());
    expect(reopened.state()).toEqual(server.state(LIB));
  });

  it('reopens consistent after a crash in the middle of a journal write', async () => {
    const server = new InMemorySyncServer();
    const node = await openNode(server, store());
    const kept = await node.create('Tag', { name: 'kept' });
    const journalBefore = (await store().load()).journal;

    crashDuringNextPut('journal');
    // The builder's save fails: the op is applied in memory only, never acknowledged as saved.
    await expect(node.create('Tag', { name: 'lost with the tab' })).rejects.toThrow();

    const reopenedStore = store();
    expect((await reopenedStore.load()).journal).toEqual(journalBefore);
    const reopened = await openNode(server, reopenedStore);
    expect(reopened.nodeId).toBe(node.nodeId);
    expect(reopened.outbox()).toEqual([kept]);
    expect(reopened.records('Tag').map((r) => r.data.name)).toEqual(['kept']);
    // It carries on: new edits, a sync, the server's state.
    await reopened.create('Tag', { name: 'after the crash' });
    const report = await reopened.sync();
    expect(report.pushed).toBe(2);
    expect(reopened.state()).toEqual(server.state(LIB));
    expect(server.duplicates(LIB)).toEqual([]);
  });

  it('reopens consistent after a crash in the middle of a replica write, and catches up', async () => {
    const server = new InMemorySyncServer();
    const writer = await SyncNode.open({ libraryId: LIB, transport: server });
    for (let i = 0; i < 5; i++) await writer.create('Tag', { name: `t${i}` });
    await writer.sync();

    const node = await openNode(server, store());
    await node.sync();
    const cursorBefore = node.pulledThrough;
    const replicaBefore = (await store().load()).replica;
    await writer.create('Tag', { name: 'later' });
    await writer.sync();

    crashDuringNextPut('replica');
    await expect(node.sync()).rejects.toThrow();

    const reopenedStore = store();
    const { journal, replica } = await reopenedStore.load();
    expect(replica).toEqual(replicaBefore);
    expect(replica?.cursor).toBe(cursorBefore);
    expect((journal as StoredJournal).nodeId).toBe(node.nodeId);
    const reopened = await openNode(server, reopenedStore);
    expect(reopened.records('Tag')).toHaveLength(5);
    await reopened.sync();
    expect(reopened.state()).toEqual(server.state(LIB));
    expect(reopened.records('Tag')).toHaveLength(6);
  });

  it('lets one tab at a time hold the store (Web Lock), the next one in when it closes', async () => {
    const locks = new FakeLocks();
    const server = new InMemorySyncServer();
    const tabA = store({ locks });
    const nodeA = await openNode(server, tabA);
    await nodeA.create('Tag', { name: 'from tab A' });

    await expect(store({ locks, wait: false }).load()).rejects.toBeInstanceOf(StoreBusyError);

    const tabB = store({ locks });
    let opened = false;
    const nodeB = openNode(server, tabB).then((node) => {
      opened = true;
      return node;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(opened).toBe(false);

    await nodeA.flush();
    await tabA.close();
    const b = await nodeB;
    expect(b.nodeId).toBe(nodeA.nodeId);
    expect(b.records('Tag').map((r) => r.data.name)).toEqual(['from tab A']);
    await tabB.close();
  });

  it('forgets everything on destroy()', async () => {
    const node = await openNode(new InMemorySyncServer(), store());
    await node.create('Tag', { name: 'x' });
    const s = store();
    await s.load();
    await s.destroy();
    expect(await store().load()).toEqual({ journal: undefined, replica: undefined });
  });
});
