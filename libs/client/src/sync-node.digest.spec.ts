import { type MaterializedState, type Operation, stateDigest } from './protocol';
import { SyncNode } from './sync-node';
import { InMemorySyncServer } from './testing';
import type {
  FeedPage,
  PullRequest,
  PushResult,
  ServerDigest,
  SyncTransport,
} from './transport/sync-transport';

const LIB = '44444444-4444-4444-8444-444444444444';

/** The in-memory server with digest() over its state (nothing else writes meanwhile). */
class DigestingTransport implements SyncTransport {
  tamper: ((state: MaterializedState) => MaterializedState) | undefined;
  constructor(readonly server: InMemorySyncServer) {}
  push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    return this.server.push(libraryId, ops);
  }
  pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    return this.server.pull(libraryId, request);
  }
  stateAsOf(libraryId: string): Promise<MaterializedState> {
    const state = this.server.state(libraryId);
    return Promise.resolve(this.tamper ? this.tamper(state) : state);
  }
  async digest(libraryId: string, asOf: bigint): Promise<ServerDigest> {
    const result = stateDigest(await this.stateAsOf(libraryId));
    return { ...result, appliedOffset: asOf.toString() };
  }
}

describe('SyncNode.digest() and sync().verified', () => {
  it('is verified when the node holds the server state, null without a digest to compare', async () => {
    const server = new InMemorySyncServer();
    const transport = new DigestingTransport(server);
    const a = await SyncNode.open({ libraryId: LIB, transport });
    const b = await SyncNode.open({ libraryId: LIB, transport });
    const tag = await a.create('Tag', { name: 'work' });
    const object = await b.create('Object', { note: 'x' });
    await b.link('TagOnObject', object.recordId, tag.recordId);
    expect((await a.sync()).verified).toBe(true);
    expect((await b.sync()).verified).toBe(true);
    expect((await a.sync()).verified).toBe(true);
    expect(a.digest()).toEqual(b.digest());
    expect(a.digest()).toEqual(stateDigest(server.state(LIB)));

    const blind = await SyncNode.open({ libraryId: LIB, transport: server });
    expect((await blind.sync()).verified).toBeNull();
    const fresh = await SyncNode.open({
      libraryId: LIB,
      transport: new DigestingTransport(new InMemorySyncServer()),
    });
    expect((await fresh.sync()).verified).toBeNull(); // nothing pulled: no offset to compare at
  });

  it('reports a mismatch with per-model counts on both sides', async () => {
    const server = new InMemorySyncServer();
    const transport = new DigestingTransport(server);
    const warnings: string[] = [];
    const node = await SyncNode.open({
      libraryId: LIB,
      transport,
      logger: { warn: (message) => warnings.push(message) },
    });
    await node.create('Tag', { name: 'a' });
    await node.create('Tag', { name: 'b' });
    expect((await node.sync()).verified).toBe(true);
    transport.tamper = (state) => ({ ...state, records: state.records.slice(1) });
    expect((await node.sync()).verified).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Tag 2/1');
    expect(warnings[0]).toContain(node.digest().digest);
  });
});
