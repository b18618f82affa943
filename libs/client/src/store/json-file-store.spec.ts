import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_MS, NODE_A, createOp, rid, updateOp } from '@sync/protocol/testing';
import { InMemorySyncServer } from '../testing';
import { SyncNode } from '../sync-node';
import { JsonFileStore } from './json-file-store';
import { STORE_FORMAT_VERSION, type StoredReplica, type StoredReplicaChange } from './local-store';

/*
 * The JSON-file store appends the rows a pull changed instead of rewriting replica.ndjson, and a
 * node reopened from it holds exactly what it held; full saves compact; crashes between the
 * two files, mid-append or mid-compaction lose nothing that was acknowledged.
 */

const LIB = '33333333-3333-4333-8333-333333333333';
const READER = '0d000000-0000-4000-8000-00000000000d';

const emptyReplica = (cursor: string | null): StoredReplica => ({
  version: STORE_FORMAT_VERSION,
  cursor,
  slice: { records: [], pending: [], relations: [], accepted: [] },
});

describe('JsonFileStore', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'json-file-store-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checkpoints a long pull by appending changes, and reopens to the same state', async () => {
    const server = new InMemorySyncServer({ now: () => BASE_MS + 3_600_000 });
    for (let i = 0; i < 60; i++) {
      await server.push(LIB, [
        createOp(rid(i), 'Tag', { name: `t${i}` }, NODE_A, 2 * i),
        updateOp(rid(i), 'color', `c${i}`, NODE_A, 2 * i + 1, 'Tag'),
      ]);
    }
    const store = new JsonFileStore(dir);
    const node = await SyncNode.open({
      libraryId: LIB,
      transport: server,
      store,
      nodeId: READER,
      pullPageSize: 10,
      checkpointPages: 2,
    });
    await node.bootstrapFromSnapshot(); // a full save: nothing to append to before it
    await server.push(LIB, [updateOp(rid(0), 'name', 'later', NODE_A, 500, 'Tag')]);
    for (let i = 60; i < 120; i++) {
      await server.push(LIB, [createOp(rid(i), 'Tag', { name: `t${i}` }, NODE_A, 1000 + i)]);
    }
    const base = await readFile(join(dir, 'replica.ndjson'), 'utf8');
    await node.sync();
    await node.flush();
    // The pull appended its checkpoints; replica.ndjson was not rewritten.
    expect(await readFile(join(dir, 'replica.ndjson'), 'utf8')).toBe(base);
    const lines = (await readFile(join(dir, 'replica.changes'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);

    const reopened = await SyncNode.open({
      libraryId: LIB,
      transport: server,
      store: new JsonFileStore(dir),
    });
    expect(reopened.state()).toEqual(node.state());
    expect(reopened.pulledThrough).toBe(node.pulledThrough);
    expect(reopened.state().records).toHaveLength(120);
    expect(reopened.record(rid(0))?.data).toMatchObject({ name: 'later', color: 'c0' });
  });

  it('appends a change larger than a write chunk as the one line JSON.stringify gives', async () => {
    const store = new JsonFileStore(dir);
    await store.load();
    await store.saveReplica(emptyReplica('1'));
    const clock: [string, string] = ['7301444403200000000', NODE_A];
    // About 3 MB: several chunks of writes.
    const records = Array.from({ length: 3000 }, (_, i) => ({
      recordId: rid(i),
      model: 'Tag',
      owner: NODE_A,
      deleted: false,
      fields: { name: { value: `t${i} ${'é'.repeat(500)}`, clock } },
    }));
    const change: StoredReplicaChange = {
      version: STORE_FORMAT_VERSION,
      cursor: '2',
      changes: { records, relations: [], pending: [], accepted: [] },
    };
    await store.appendReplica(change);
    const text = await readFile(join(dir, 'replica.changes'), 'utf8');
    expect(text).toBe(`${JSON.stringify({ ...change, generation: 1 })}\n`);
    const { replica } = await new JsonFileStore(dir).load();
    expect(replica?.cursor).toBe('2');
    expect(replica?.slice.records).toEqual(records);
  });

  it('ignores changes of an older generation and cuts a torn last line', async () => {
    const store = new JsonFileStore(dir);
    await store.load();
    await store.saveReplica(emptyReplica('1'));
    const record = {
      recordId: rid(1),
      model: 'Tag',
      owner: null,
      deleted: false,
      fields: { name: { value: 'x', clock: ['5', NODE_A] as [string, string] } },
    };
    await store.appendReplica({
      version: STORE_FORMAT_VERSION,
      cursor: '2',
      changes: { records: [record], relations: [], pending: [], accepted: [] },
    });
    const changesFile = join(dir, 'replica.changes');
    const oldGeneration = await readFile(changesFile, 'utf8');

    // A crash after a full save wrote replica.ndjson but before it emptied replica.changes.
    await store.saveReplica(emptyReplica('3'));
    await writeFile(changesFile, `${oldGeneration}{"torn":`);
    const reloaded = new JsonFileStore(dir);
    const state = await reloaded.load();
    expect(state.replica).toEqual(emptyReplica('3'));
    expect(await readFile(changesFile, 'utf8')).toBe(oldGeneration);

    // Appends after the cut line load; the stale line still does not.
    await reloaded.appendReplica({
      version: STORE_FORMAT_VERSION,
      cursor: '4',
      changes: { records: [record], relations: [], pending: [], accepted: [] },
    });
    expect((await new JsonFileStore(dir).load()).replica).toEqual({
      ...emptyReplica('4'),
      slice: { records: [record], pending: [], relations: [], accepted: [] },
    });
  });

  it('keeps the previous replica and its changes when a full save fails midway', async () => {
    const store = new JsonFileStore(dir);
    await store.load();
    const rows = Array.from({ length: 3000 }, (_, i) => tagRow(i));
    await store.saveReplica({
      ...emptyReplica('1'),
      slice: { ...emptyReplica('1').slice, records: rows },
    });
    await store.appendReplica({
      version: STORE_FORMAT_VERSION,
      cursor: '2',
      changes: { records: [tagRow(5000)], relations: [], pending: [], accepted: [] },
    });
    const before = await new JsonFileStore(dir).load();
    expect(before.replica?.slice.records).toHaveLength(3001);

    // A compaction of a replica far larger than one write chunk that dies after some chunks
    // reached the temp file (a row that cannot be encoded stands in for the crash).
    const failing = Array.from({ length: 20_000 }, (_, i) => tagRow(i));
    Object.defineProperty(failing[15_000], 'fields', {
      enumerable: true,
      get: () => {
        throw new Error('killed mid-compaction');
      },
    });
    await expect(
      store.saveReplica({
        ...emptyReplica('9'),
        slice: { ...emptyReplica('9').slice, records: failing },
      }),
    ).rejects.toThrow('killed mid-compaction');
    expect((await new JsonFileStore(dir).load()).replica).toEqual(before.replica);

    // A crash leaves a partial temp file behind: never read, removed on the next load.
    await writeFile(join(dir, `replica.ndjson.${'0'.repeat(8)}.tmp`), '{"version":1,"cur');
    expect((await new JsonFileStore(dir).load()).replica).toEqual(before.replica);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('writes a full save of many buffers byte for byte, multi-byte text and an oversized row included', async () => {
    const clock: [string, string] = ['7301444403200000000', NODE_A];
    const row = (i: number, text: string) => ({
      recordId: rid(i),
      model: 'Tag',
      owner: null,
      deleted: false,
      fields: { name: { value: text, clock } },
    });
    // About 4 MB over 1 MiB buffers; one row alone is longer than a buffer holds.
    const records = Array.from({ length: 2000 }, (_, i) => row(i, `t${i} ${'é😀'.repeat(300)}`));
    records.splice(1000, 0, row(5000, 'x'.repeat(1_500_000)));
    const replica: StoredReplica = {
      ...emptyReplica('9'),
      slice: { ...emptyReplica('9').slice, records },
    };
    const store = new JsonFileStore(dir);
    await store.load();
    await store.saveReplica(replica);
    const text = await readFile(join(dir, 'replica.ndjson'), 'utf8');
    const rows = text.split('\n').slice(1, -1);
    expect(rows).toEqual(records.map((r) => JSON.stringify(['record', r])));
    expect((await new JsonFileStore(dir).load()).replica).toEqual(replica);
  });

  it('writes the replica one row per line, and still reads the single-JSON file of earlier versions', async () => {
    const replica: StoredReplica = {
      ...emptyReplica('7'),
      slice: { ...emptyReplica('7').slice, records: [tagRow(1), tagRow(2)] },
    };
    const store = new JsonFileStore(dir);
    await store.load();
    await store.saveReplica(replica);
    const lines = (await readFile(join(dir, 'replica.ndjson'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[1])).toEqual(['record', tagRow(1)]);
    expect((await new JsonFileStore(dir).load()).replica).toEqual(replica);

    await rm(join(dir, 'replica.ndjson'));
    await writeFile(join(dir, 'replica.json'), JSON.stringify({ ...replica, generation: 4 }));
    await writeFile(
      join(dir, 'replica.changes'),
      `${JSON.stringify({
        version: STORE_FORMAT_VERSION,
        cursor: '8',
        changes: { records: [tagRow(3)], relations: [], pending: [], accepted: [] },
        generation: 4,
      })}\n`,
    );
    const legacy = new JsonFileStore(dir);
    const loaded = await legacy.load();
    expect(loaded.replica?.cursor).toBe('8');
    expect(loaded.replica?.slice.records).toEqual([tagRow(1), tagRow(2), tagRow(3)]);
    // The next full save moves it to the new form.
    await legacy.saveReplica(loaded.replica!);
    expect(await readdir(dir)).not.toContain('replica.json');
    expect((await new JsonFileStore(dir).load()).replica).toEqual(loaded.replica);
  });
});

function tagRow(i: number) {
  return {
    recordId: rid(i),
    model: 'Tag',
    owner: null,
    deleted: false,
    fields: { name: { value: `tag ${i}`, clock: [String(100 + i), NODE_A] as [string, string] } },
  };
}
