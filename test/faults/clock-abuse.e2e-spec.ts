import { MemoryStore, SyncHttpTransport, SyncNode } from '@sync/client';
import { MAX_HYBRID, formatHybrid, hybridFromMillis } from '@sync/protocol';
import { TRANSPORT_CLIENT_TIMEOUT_MS } from '../support/client-timeouts';
import { type WireOp, referenceSchema, referenceState } from '../support/reference-model';
import { createTestDatabase, kafkaBrokers } from '../support/test-env';
import {
  type FaultTopics,
  type InProcessQuery,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  startQuery,
} from './support/environment';
import { Ledger, post } from './support/load';
import { ServiceProcess } from './support/services';
import { expectClean, listAll, reportResult, verifyPipeline } from './support/verify';
import { prng, randomUuid } from './support/workload';

/*
 * Scenario 7: clock abuse. A node far in the future is refused (422 TIMESTAMP_DRIFT, all or
 * nothing, the ingest stays up); nodes whose clocks are skewed within the bound converge to one
 * state, and an edit made after seeing another node's edit wins even from a clock that is behind;
 * equal hybrids from two nodes are ordered by node id, whatever the log order.
 */

const MAX_DRIFT_MS = 300_000;
const NODE_A = '0a0a0a0a-0000-4000-8000-00000000000a';
const NODE_B = '0b0b0b0b-0000-4000-8000-00000000000b';

describe('scenario 7: clock abuse', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: FaultTopics;
  const services: ServiceProcess[] = [];
  let query: InProcessQuery | undefined;
  let ingest: ServiceProcess;
  const ledger = new Ledger();
  /** The client nodes' library: checked by convergence, left out of the ledger checks. */
  let clockLibrary = '';
  const random = prng(707);
  const began = Date.now();
  const hybridAt = (offsetMs: number, counter = 0) =>
    formatHybrid(hybridFromMillis(Date.now() + offsetMs, counter));
  const tagCreate = (node: string, hybrid: string, name = 'x'): WireOp => ({
    type: 'CREATE',
    recordId: randomUuid(random),
    model: 'Tag',
    data: { name },
    node,
    timestamp: { hybrid },
  });

  beforeAll(async () => {
    const brokers = kafkaBrokers();
    database = await createTestDatabase('fault_clock');
    topics = await createTopics(brokers, 'fault-clock', 3);
    const [i, projector] = await Promise.all([
      ServiceProcess.start('ingest', {
        env: ingestEnv(brokers, topics, database.url, { MAX_DRIFT_MS: String(MAX_DRIFT_MS) }),
      }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, topics, database.url) }),
    ]);
    ingest = i;
    services.push(ingest, projector);
    query = await startQuery(database.url, topics, brokers);
    await ingest.ready();
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await query?.close();
    await Promise.all([database?.drop(), topics && deleteTopics(kafkaBrokers(), topics)]);
  });

  it('a node far in the future is refused, all or nothing, and the ingest stays up', async () => {
    const library = randomUuid(random);
    const refused: string[] = [];
    for (const [label, hybrid] of [
      ['drift bound + 5 s', hybridAt(MAX_DRIFT_MS + 5000)],
      ['10 minutes ahead', hybridAt(10 * 60_000)],
      ['a day ahead', hybridAt(24 * 3600_000)],
      ['year 2100', formatHybrid(hybridFromMillis(Date.UTC(2100, 0, 1)))],
      ['the greatest hybrid', formatHybrid(MAX_HYBRID)],
    ] as const) {
      const answer = await post(ingest.url, library, [tagCreate(NODE_A, hybrid, label)]);
      ledger.record(answer);
      if (answer.status !== 422 || answer.code !== 'TIMESTAMP_DRIFT') {
        refused.push(`${label}: ${answer.status} ${answer.code ?? ''}`);
      }
    }
    expect(refused).toEqual([]);

    // One drifting op refuses its whole batch.
    const mixed = [
      tagCreate(NODE_A, hybridAt(-1000), 'ok 1'),
      tagCreate(NODE_B, hybridAt(-900), 'ok 2'),
      tagCreate(NODE_A, hybridAt(3600_000), 'far'),
      tagCreate(NODE_B, hybridAt(-800), 'ok 3'),
    ];
    const response = await fetch(`${ingest.url}/libraries/${library}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mixed),
    });
    const body = (await response.json()) as {
      error: string;
      details: { index: number; path: string }[];
    };
    expect(response.status).toBe(422);
    expect(body.error).toBe('TIMESTAMP_DRIFT');
    expect(body.details).toEqual([expect.objectContaining({ index: 2, path: 'timestamp.hybrid' })]);
    ledger.record({
      library,
      ops: mixed,
      status: 422,
      code: 'TIMESTAMP_DRIFT',
      startedAt: 0,
      endedAt: 0,
    });

    // Inside the bound is accepted, and the service clock follows it (receive rule).
    const ahead = hybridAt(MAX_DRIFT_MS - 20_000);
    const accepted = await post(ingest.url, library, [tagCreate(NODE_B, ahead, 'just inside')]);
    ledger.record(accepted);
    expect(accepted.status).toBe(202);
    const clock = (await (await fetch(`${ingest.url}/clock`)).json()) as { hybrid: string };
    expect(BigInt(clock.hybrid)).toBeGreaterThanOrEqual(BigInt(ahead));
    expect(ingest.running).toBe(true);
    expect((await ingest.get('/health/ready')).status).toBe(200);
  });

  it('equal hybrids from two nodes are ordered by node id, whatever the log order', async () => {
    const library = randomUuid(random);
    // One tie per pair of writes (an identity is node + hybrid: a node never reuses one).
    const base = Date.now() - 5000;
    const tie = (n: number) => formatHybrid(hybridFromMillis(base + n));
    const record = (id: string, node: string, name: string, n: number): WireOp => ({
      type: 'UPDATE',
      recordId: id,
      model: 'Tag',
      field: 'name',
      value: name,
      node,
      timestamp: { hybrid: tie(n) },
    });
    const first = randomUuid(random);
    const second = randomUuid(random);
    const third = randomUuid(random);
    const object = randomUuid(random);
    const tags = [randomUuid(random), randomUuid(random)];
    const relation = (
      type: 'CREATE' | 'DELETE',
      node: string,
      group: string,
      n: number,
    ): WireOp => ({
      type,
      relationItem: object,
      relationGroup: group,
      relation: 'TagOnObject',
      node,
      timestamp: { hybrid: tie(n) },
    });
    const created = (id: string, model: string, h: number): WireOp => ({
      type: 'CREATE',
      recordId: id,
      model,
      data: {},
      node: NODE_A,
      timestamp: { hybrid: hybridAt(-60_000, h) },
    });
    const batches: WireOp[][] = [
      [created(first, 'Tag', 1), created(second, 'Tag', 2), created(object, 'Object', 3)],
      [created(tags[0], 'Tag', 4), created(tags[1], 'Tag', 5)],
      // The greater node's write is logged first for one record, last for the other.
      [record(first, NODE_B, 'b wins', 1), record(second, NODE_A, 'a loses', 2)],
      [record(first, NODE_A, 'a loses', 1), record(second, NODE_B, 'b wins', 2)],
      // A CREATE's data and an UPDATE with the same hybrid: the node decides too.
      [{ ...tagCreate(NODE_B, tie(3), 'b wins'), recordId: third }],
      [record(third, NODE_A, 'a loses', 3)],
      // Relation presence: the greater node's CREATE or DELETE wins the tie.
      [relation('CREATE', NODE_A, tags[0], 4), relation('DELETE', NODE_B, tags[0], 4)],
      [relation('DELETE', NODE_A, tags[1], 5), relation('CREATE', NODE_B, tags[1], 5)],
    ];
    for (const ops of batches) {
      const answer = await post(ingest.url, library, ops);
      ledger.record(answer);
      expect(answer.status).toBe(202);
    }
    const last = ledger.batchesOf(library).at(-1)!;
    const records = (await getJson(
      `/libraries/${library}/records?model=Tag&minOffset=${last.lastOffset}`,
    )) as { items: { id: string; data: { name: string } }[] };
    const names = new Map(records.items.map((r) => [r.id, r.data.name]));
    expect([names.get(first), names.get(second), names.get(third)]).toEqual([
      'b wins',
      'b wins',
      'b wins',
    ]);
    const relations = (await getJson(`/libraries/${library}/relations`)) as {
      items: { group: string }[];
    };
    expect(relations.items.map((r) => r.group)).toEqual([tags[1]]);
  });

  it('three nodes with skewed clocks (+150 s, 0, -140 s) converge; a later edit wins even from a slow clock', async () => {
    const library = randomUuid(random);
    const transport = new SyncHttpTransport({
      ingestUrl: ingest.url,
      queryUrl: query!.url,
      timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS,
    });
    const open = (skewMs: number) =>
      SyncNode.open({
        libraryId: library,
        transport,
        store: new MemoryStore(),
        now: () => Date.now() + skewMs,
      });
    const [fast, normal, slow] = await Promise.all([open(150_000), open(0), open(-140_000)]);
    const nodes = [fast, normal, slow];

    const tag = await normal.create('Tag', { name: 'start' });
    const object = await normal.create('Object', { note: 'photo' });
    await normal.sync();
    await Promise.all([fast.sync(), slow.sync()]);

    // Concurrent edits from all three, synced in a shuffled order, several rounds.
    for (let round = 0; round < 6; round++) {
      for (const [i, node] of nodes.entries()) {
        await node.update('Tag', tag.recordId, { name: `n${i} r${round}`, color: `#${i}${round}` });
        if (random() < 0.5) await node.link('TagOnObject', object.recordId, tag.recordId);
        else await node.unlink('TagOnObject', object.recordId, tag.recordId);
        await node.create('Label', { name: `label of ${i} in ${round}` });
      }
      for (const node of [...nodes].sort(() => random() - 0.5)) await node.sync();
    }

    // Causality across skew: the slow node sees the fast node's edit, then edits: it wins.
    await fast.update('Tag', tag.recordId, { name: 'fast edit' });
    await fast.sync();
    await slow.sync();
    expect(slow.record(tag.recordId)?.data.name).toBe('fast edit');
    await slow.update('Tag', tag.recordId, { name: 'slow edit after seeing it' });
    await slow.sync();

    for (let i = 0; i < 2; i++) for (const node of nodes) await node.sync();
    const states = nodes.map((node) => node.state());
    expect(states[1]).toEqual(states[0]);
    expect(states[2]).toEqual(states[0]);
    expect(states[0].records.find((r) => r.id === tag.recordId)?.data.name).toBe(
      'slow edit after seeing it',
    );

    // The same state on the server, and what the reference model makes of the server's feed.
    const feed = (await listAll(query!.url, `/libraries/${library}/operations`)) as {
      operation: WireOp;
    }[];
    const expected = referenceState(
      referenceSchema(),
      feed.map((entry) => entry.operation),
    );
    const serverRecords = await listAll(query!.url, `/libraries/${library}/records`);
    const serverRelations = await listAll(query!.url, `/libraries/${library}/relations`);
    expect(serverRecords).toEqual(expected.records);
    expect(serverRelations).toEqual(expected.relations);
    expect(states[0].records).toEqual(expected.records);
    expect(states[0].relations).toEqual(expected.relations);
    expect(expected.records.length).toBeGreaterThan(15);
    expect(expected.rejected).toEqual([]);
    // The fast node's ops were accepted (within the bound) and are in the feed.
    expect(feed.some((entry) => entry.operation.node === fast.nodeId)).toBe(true);
    clockLibrary = library;
  });

  it('the op log holds every acknowledged op once and nothing that was refused', async () => {
    const report = await verifyPipeline({
      scenario: 'clock abuse',
      databaseUrl: database.url,
      brokers: kafkaBrokers(),
      topics,
      ledger,
      queryUrl: query!.url,
      ignoreLibraries: new Set([clockLibrary]),
    });
    reportResult({
      scenario: '7 clock abuse',
      scale: 'any',
      load: `${ledger.batches.length} requests + 3 skewed client nodes`,
      faults: 'hybrids up to 2^64-1 ahead, skews +150 s / -140 s, equal hybrids on two nodes',
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: { refusedOps: report.refused, answers: ledger.answers() },
    });
    expectClean(report);
    expect(report.refused).toBe(9);
  });

  async function getJson(path: string): Promise<unknown> {
    const response = await fetch(`${query!.url}${path}`);
    expect(response.status).toBe(200);
    return response.json();
  }
});
