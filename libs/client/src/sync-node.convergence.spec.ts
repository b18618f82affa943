import fc from 'fast-check';
import { type Operation, compareClock, opClock } from '@sync/protocol';
import { LocalRejectionError } from './errors';
import { MemoryStore } from './store/memory-store';
import { SyncNode } from './sync-node';
import { FlakyTransport, InMemorySyncServer } from './testing';

/*
 * Three nodes with skewed clocks edit one library offline, in random sessions, and sync in
 * random orders through a stand-in server (a test double of the transport running the protocol's
 * merge engine), with lost requests, lost answers and restarts from the store along the way.
 * Once everyone has synced twice, all three must hold exactly the server's state.
 */

const LIB = '11111111-1111-4111-8111-111111111111';
const T0 = 1_700_000_000_000;
const SKEWS_MS = [-90_000, 0, 120_000];
const NAMES = ['red', 'green', 'blue', null];
const DATES = ['2024-05-01T10:00:00Z', '2024-06-01', null];

type Edit =
  | { kind: 'createTag'; name: string | null }
  | { kind: 'createObject'; note: string | null; favorite: boolean }
  | { kind: 'createLocation'; name: string | null }
  | { kind: 'update'; pick: number; value: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'link'; pickObject: number; pickTag: number; date: number }
  | { kind: 'unlink'; pick: number }
  | { kind: 'updateLink'; pick: number; date: number };

type Step =
  | { kind: 'edit'; node: number; edit: Edit }
  | { kind: 'sync' | 'push' | 'pull'; node: number; fault: 'none' | 'lost-request' | 'lost-answer' }
  | { kind: 'restart'; node: number }
  | { kind: 'tick'; ms: number };

const nodeIndex = fc.integer({ min: 0, max: 2 });
const pick = fc.nat(1000);

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('createTag' as const), name: fc.constantFrom(...NAMES) }),
  fc.record({
    kind: fc.constant('createObject' as const),
    note: fc.constantFrom(...NAMES),
    favorite: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('createLocation' as const), name: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant('update' as const), pick, value: fc.nat(3) }),
  fc.record({ kind: fc.constant('update' as const), pick, value: fc.nat(3) }),
  fc.record({ kind: fc.constant('delete' as const), pick }),
  fc.record({
    kind: fc.constant('link' as const),
    pickObject: pick,
    pickTag: pick,
    date: fc.nat(2),
  }),
  fc.record({
    kind: fc.constant('link' as const),
    pickObject: pick,
    pickTag: pick,
    date: fc.nat(2),
  }),
  fc.record({ kind: fc.constant('unlink' as const), pick }),
  fc.record({ kind: fc.constant('updateLink' as const), pick, date: fc.nat(2) }),
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({ kind: fc.constant('edit' as const), node: nodeIndex, edit }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom('sync' as const, 'push' as const, 'pull' as const),
      node: nodeIndex,
      fault: fc.constantFrom(
        'none' as const,
        'none' as const,
        'lost-request' as const,
        'lost-answer' as const,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node: nodeIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(20_000) }) },
);

class World {
  time = T0;
  readonly server = new InMemorySyncServer({ now: () => this.time });
  readonly transports = SKEWS_MS.map(() => new FlakyTransport(this.server));
  readonly stores = SKEWS_MS.map(() => new MemoryStore());
  nodes: SyncNode[] = [];
  /** Every op a node queued; each must end up in the feed exactly once. */
  readonly written = new Map<string, Operation>();

  async open(index: number): Promise<SyncNode> {
    return SyncNode.open({
      libraryId: LIB,
      transport: this.transports[index],
      store: this.stores[index],
      now: () => this.time + SKEWS_MS[index],
    });
  }

  async start(): Promise<void> {
    this.nodes = await Promise.all(SKEWS_MS.map((_, i) => this.open(i)));
  }

  record(ops: Operation[]): void {
    for (const op of ops) this.written.set(`${op.node}@${op.timestamp.hybrid}`, op);
  }
}

async function runEdit(world: World, node: SyncNode, e: Edit): Promise<void> {
  const records = node.records();
  const of = (model: string) => records.filter((r) => r.model === model);
  const choose = <T>(list: T[], n: number): T | undefined =>
    list.length === 0 ? undefined : list[n % list.length];
  switch (e.kind) {
    case 'createTag':
      world.record([await node.create('Tag', { name: e.name })]);
      return;
    case 'createObject':
      world.record([await node.create('Object', { note: e.note, favorite: e.favorite })]);
      return;
    case 'createLocation':
      world.record([await node.create('Location', { name: e.name, total_capacity: 100 })]);
      return;
    case 'update': {
      const target = choose(records, e.pick);
      if (target === undefined) return;
      const changes =
        target.model === 'Object'
          ? { note: NAMES[e.value], kind: e.value }
          : target.model === 'Location'
            ? { name: NAMES[e.value], available_capacity: e.value }
            : { name: NAMES[e.value], is_hidden: e.value % 2 === 0 };
      const model = target.model as 'Tag' | 'Object' | 'Location';
      await expectOwnerRule(world, node, target.id, () => node.update(model, target.id, changes));
      return;
    }
    case 'delete': {
      const target = choose(records, e.pick);
      if (target === undefined) return;
      const model = target.model as 'Tag' | 'Object' | 'Location';
      await expectOwnerRule(world, node, target.id, async () => [
        await node.delete(model, target.id),
      ]);
      return;
    }
    case 'link': {
      const object = choose(of('Object'), e.pickObject);
      const tag = choose(of('Tag'), e.pickTag);
      if (object === undefined || tag === undefined) return;
      world.record([
        await node.link('TagOnObject', object.id, tag.id, { date_created: DATES[e.date] }),
      ]);
      return;
    }
    case 'unlink':
    case 'updateLink': {
      const link = choose(node.relations({ relation: 'TagOnObject' }), e.pick);
      if (link === undefined) return;
      world.record(
        e.kind === 'unlink'
          ? [await node.unlink('TagOnObject', link.item, link.group)]
          : await node.updateLink('TagOnObject', link.item, link.group, {
              date_created: DATES[e.date],
            }),
      );
      return;
    }
  }
}

/** Edits of another node's Location must be refused locally (NOT_OWNER), queuing nothing. */
async function expectOwnerRule(
  world: World,
  node: SyncNode,
  recordId: string,
  edit: () => Promise<Operation[]>,
): Promise<void> {
  const record = node.record(recordId);
  const owner = record?.model === 'Location' ? ownerOf(world, recordId) : undefined;
  if (owner === undefined || owner === node.nodeId) {
    world.record(await edit());
    return;
  }
  const before = node.outbox().length;
  const error: unknown = await edit().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalRejectionError);
  expect((error as LocalRejectionError).reason).toBe('NOT_OWNER');
  expect(node.outbox()).toHaveLength(before);
}

function ownerOf(world: World, recordId: string): string | undefined {
  for (const op of world.written.values()) {
    if (op.type === 'CREATE' && 'recordId' in op && op.recordId === recordId) return op.node;
  }
  return undefined;
}

async function runStep(world: World, s: Step): Promise<void> {
  world.time += 1; // wall clocks move between steps, however fast they come
  switch (s.kind) {
    case 'tick':
      world.time += s.ms;
      return;
    case 'edit':
      await runEdit(world, world.nodes[s.node], s.edit);
      return;
    case 'restart':
      await world.nodes[s.node].flush();
      world.nodes[s.node] = await world.open(s.node);
      return;
    default: {
      const transport = world.transports[s.node];
      if (s.fault !== 'none') {
        if (s.kind === 'pull') transport.failNextPull(s.fault);
        else transport.failNextPush(s.fault);
      }
      const node = world.nodes[s.node];
      const run = s.kind === 'sync' ? node.sync() : s.kind === 'push' ? node.push() : node.pull();
      if (s.fault === 'none') {
        const report = await run;
        expect('rejectedByServer' in report ? report.rejectedByServer : []).toEqual([]);
        expect('driftWarnings' in report ? report.driftWarnings : []).toEqual([]);
      } else {
        // An empty outbox makes no push call, so the armed fault may not fire: drop it then.
        await run.catch(() => undefined);
        transport.clearFaults();
      }
    }
  }
}

describe('three nodes with skewed clocks converge (property)', () => {
  it('ends with identical local states equal to the server state, every op once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 10, maxLength: 80, size: 'max' }),
        async (steps) => {
          const world = new World();
          await world.start();
          for (const s of steps) await runStep(world, s);

          // Everyone syncs twice: the first round gets every op to the server, the second to every node.
          for (let round = 0; round < 2; round++) {
            for (const node of world.nodes) {
              world.time += 1;
              const report = await node.sync();
              expect(report.rejectedByServer).toEqual([]);
            }
          }

          const server = world.server.state(LIB);
          for (const node of world.nodes) {
            expect(node.state()).toEqual(server);
            expect(node.confirmedState()).toEqual(server);
            expect(node.outbox()).toEqual([]);
            expect(node.unconfirmed()).toEqual([]);
          }
          // Nothing valid was lost or doubled, and nothing was rejected.
          const feed = world.server.feed(LIB);
          expect(feed).toHaveLength(world.written.size);
          const ids = new Set(feed.map(({ op }) => `${op.node}@${op.timestamp.hybrid}`));
          expect([...ids].sort()).toEqual([...world.written.keys()].sort());
          expect(world.server.rejected(LIB)).toEqual([]);
          // Receive rule: every node's clock is past every op it has seen.
          const greatest = feed
            .map(({ op }) => opClock(op))
            .sort(compareClock)
            .pop();
          for (const node of world.nodes) {
            if (greatest) expect(BigInt(node.clockValue())).toBeGreaterThanOrEqual(greatest.hybrid);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
