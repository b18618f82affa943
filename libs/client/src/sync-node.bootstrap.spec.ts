import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { type Operation, defaultSchema, emptySlice, mergeBatch } from '@sync/protocol';
import {
  BASE_MS,
  NODE_A,
  NODE_B,
  NODE_C,
  createOp,
  rid,
  smallWorldOp,
  updateOp,
} from '@sync/protocol/testing';
import { type StoredSlice, decodeSlice, encodeSlice } from './replica/slice-codec';
import type { StoredReplica } from './store/local-store';
import { MemoryStore } from './store/memory-store';
import { type SyncProgress, SyncNode } from './sync-node';
import { InMemorySyncServer, type SnapshotClocks } from './testing';
import { SyncHttpTransport } from './transport/http-transport';

/*
 * The fast paths of initial sync change nothing: a node that bootstraps from the snapshot
 * (rows decoded in bulk, clocks interned, records packed, identities of other nodes' ops not
 * kept) ends with exactly the rows, field clocks and pending ops of a node that replayed every
 * op one by one, and of the merge engine itself merging the feed, its HLC past every op as the
 * replayer's is, and both keep merging alike, whichever form the snapshot spells records' clocks
 * in. A snapshot cut mid-stream changes nothing local.
 */

const LIB = '22222222-2222-4222-8222-222222222222';
const READER = '0d000000-0000-4000-8000-00000000000d';

const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 40, tags: 4, objects: 2 });

/** Ops pushed in batches (cut at `cuts`), as several writers would. */
async function publish(server: InMemorySyncServer, ops: Operation[], cuts: number[]) {
  const points = [...new Set(cuts.map((c) => Math.min(c, ops.length)))].sort((a, b) => a - b);
  let start = 0;
  for (const end of [...points, ops.length]) {
    if (end > start) await server.push(LIB, ops.slice(start, end));
    start = end;
  }
}

/**
 * The node's saved confirmed rows, in a comparable order, records as decoded rows (a
 * bootstrapped node saves the ones it did not touch as their snapshot lines). Accepted
 * identities aside, and the cursor: the snapshot's offset may be past the feed's last op (a
 * duplicate or rejection ends the log), and both are complete through where they stand.
 */
async function savedRows(store: MemoryStore) {
  return sliceRows(((await store.load()).replica as StoredReplica).slice);
}

function sliceRows(stored: StoredSlice) {
  const decoded = decodeSlice(stored);
  const slice = encodeSlice({ ...decoded, records: new Map(decoded.records) });
  const byKey = <T>(rows: T[], key: (row: T) => string) =>
    [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return {
    records: byKey(slice.records, (r) => r.recordId),
    relations: byKey(slice.relations, (r) => `${r.relation}/${r.item}/${r.group}`),
    pending: byKey(slice.pending, ([id]) => id),
  };
}

const open = (server: InMemorySyncServer, store: MemoryStore, pullPageSize = 1000) =>
  SyncNode.open({
    libraryId: LIB,
    transport: server,
    store,
    nodeId: READER,
    now: () => BASE_MS,
    pullPageSize,
  });

describe('initial sync fast paths', () => {
  it('bootstrap from the snapshot ends exactly where a one-by-one replay ends, and keeps merging alike', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(fc.nat(40), { maxLength: 5 }),
        fc.array(opArb, { maxLength: 10 }),
        fc.constantFrom<SnapshotClocks>('compact', 'fields'),
        async (ops, cuts, later, snapshotClocks) => {
          const server = new InMemorySyncServer({ now: () => BASE_MS + 3_600_000, snapshotClocks });
          await publish(server, ops, cuts);
          const fastStore = new MemoryStore();
          const slowStore = new MemoryStore();
          const fast = await open(server, fastStore);
          const slow = await open(server, slowStore, 1);
          const progress: SyncProgress[] = [];
          await fast.bootstrapFromSnapshot({ onProgress: (p) => progress.push(p) });
          await fast.sync();
          await slow.sync();
          await Promise.all([fast.flush(), slow.flush()]);
          expect(await savedRows(fastStore)).toEqual(await savedRows(slowStore));
          expect(fast.state()).toEqual(slow.state());
          expect(fast.digest()).toEqual(slow.digest());
          // Both hold the very rows the engine itself gives for the feed, in its plain Maps
          // (the nodes keep their records packed).
          const feed = await server.pull(LIB, { after: null, limit: 1000 });
          const reference = mergeBatch(
            defaultSchema(),
            emptySlice(),
            feed.items.map(({ offset, operation }) => ({ offset, op: operation })),
          ).slice;
          expect(await savedRows(fastStore)).toEqual(sliceRows(encodeSlice(reference)));
          // The HLCs: the replay ticked once per op received, the bootstrap once for the
          // snapshot's greatest hybrid; both are past every op of the feed, so the next own op of either
          // orders after everything it has seen.
          const greatest = feed.items.reduce((max, { operation }) => {
            const hybrid = BigInt(operation.timestamp.hybrid);
            return hybrid > max ? hybrid : max;
          }, 0n);
          expect(BigInt(fast.clockValue())).toBeGreaterThanOrEqual(greatest);
          expect(BigInt(slow.clockValue())).toBeGreaterThanOrEqual(greatest);
          expect(progress[progress.length - 1]).toEqual({
            phase: 'snapshot',
            done: progress[progress.length - 1].done,
            total: progress[progress.length - 1].done,
          });

          // Both merge what follows the same way.
          await publish(server, later, []);
          await fast.sync();
          await slow.sync();
          await Promise.all([fast.flush(), slow.flush()]);
          expect(await savedRows(fastStore)).toEqual(await savedRows(slowStore));
          expect(fast.state()).toEqual(slow.state());
          expect(fast.digest()).toEqual(slow.digest());
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps accepted identities only of its own ops and of pending ones', async () => {
    const server = new InMemorySyncServer({ now: () => BASE_MS + 3_600_000 });
    const early = updateOp(rid(9), 'name', 'early', NODE_B, 3, 'Tag'); // pending: no CREATE yet
    await server.push(LIB, [
      createOp(rid(1), 'Tag', { name: 'a' }, NODE_A, 1),
      updateOp(rid(1), 'name', 'b', NODE_B, 2),
      early,
    ]);
    const store = new MemoryStore();
    const node = await open(server, store);
    const mine = await node.create('Tag', { name: 'mine' });
    await node.sync();
    await node.flush();
    expect(node.unconfirmed()).toEqual([]);
    const identities = (await store.load()).replica?.slice.accepted.map(([key]) => key);
    expect(identities?.sort()).toEqual(
      [`${NODE_B}@${early.timestamp.hybrid}`, `${mine.node}@${mine.timestamp.hybrid}`].sort(),
    );
  });
});

describe('a snapshot cut mid-stream', () => {
  let server: Server;
  let url: string;
  let source: InMemorySyncServer | undefined;
  /** The clocks parameter of each request. */
  const asked: (string | null)[] = [];
  /** Where the body is cut, as a fraction of its length; null: sent whole. */
  let cutAt: number | null = null;

  beforeAll(async () => {
    // Honours clocks=compact, as the query service does.
    server = createServer((req, res) => {
      const clocks = new URL(req.url ?? '/', url).searchParams.get('clocks');
      asked.push(clocks);
      const body = (source as InMemorySyncServer).snapshotText(LIB, {
        clocks: clocks === 'compact' ? 'compact' : 'fields',
      });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (cutAt === null) {
        res.end(body);
        return;
      }
      res.write(body.slice(0, Math.floor(body.length * cutAt)));
      setTimeout(() => res.destroy(), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('leaves the node as it was, and a retry succeeds', async () => {
    source = new InMemorySyncServer({ now: () => BASE_MS + 3_600_000 });
    const ops: Operation[] = [];
    for (let i = 0; i < 200; i++)
      ops.push(createOp(rid(100 + i), 'Tag', { name: `t${i}` }, NODE_A, i));
    await source.push(LIB, ops);
    const transport = new SyncHttpTransport({
      ingestUrl: url,
      queryUrl: url,
      retry: { attempts: 1 },
    });
    const store = new MemoryStore();
    const node = await SyncNode.open({ libraryId: LIB, transport, store, nodeId: READER });
    const mine = await node.create('Tag', { name: 'offline edit' });
    const before = { state: node.state(), saved: await store.load() };

    cutAt = 0.5;
    await expect(node.bootstrapFromSnapshot()).rejects.toThrow();
    expect(node.state()).toEqual(before.state);
    expect(node.pulledThrough).toBeNull();
    expect(node.outbox()).toEqual([mine]);
    await node.flush();
    expect(await store.load()).toEqual(before.saved);

    cutAt = null;
    const boot = await node.bootstrapFromSnapshot();
    expect(boot.records).toBe(200);
    expect(node.state().records).toHaveLength(201);
    expect(node.outbox()).toEqual([mine]);
    expect(asked).toEqual(['compact', 'compact']);
  });
});
