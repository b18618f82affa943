import { createHash, randomUUID } from 'node:crypto';
import {
  MemoryStore,
  type StoredRecord,
  SyncHttpTransport,
  SyncNode,
  decodeSnapshot,
} from '@sync/client';
import { RetentionRepository } from '@sync/persistence';
import { type Operation, defaultSchema, hybridFromMillis, materializeSlice } from '@sync/protocol';
import type { Producer } from 'kafkajs';
import { Pool } from 'pg';
import { run as runCli } from '../apps/cli/src/main';
import {
  nodes,
  op,
  opMessages,
  produce,
  randomWorkload,
  seededRandom,
  testKafka,
} from './projector.harness';
import {
  type ReferenceState,
  type WireOp,
  identityOf,
  normalizeOp,
  referenceSchema,
  referenceState,
  stableJson,
} from './support/reference-model';
import { type TestStack, startTestStack } from './support/test-stack';

/*
 * The log as data (CONTRACT.md section 8) against the real stack: a random multi-node workload
 * (rejections, duplicates, ops before their CREATE, deletes, relations removed and added again)
 * goes straight to the topic; then, for several offsets X, the state `asOf=X` must equal the
 * independent reference model fed the log's prefix through X, and the digest must equal one
 * computed here from that reference state (canonical JSON and SHA-256 written in this file, not
 * the production function). History and explain are checked against the log and the model.
 */

const ref = referenceSchema();

/** Section 8's canonical JSON, written independently of libs/protocol. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function expectedDigest(state: Pick<ReferenceState, 'records' | 'relations'>): string {
  const hash = createHash('sha256');
  const records = [...state.records].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const r of records)
    hash.update(`${canonical({ id: r.id, model: r.model, data: r.data })}\n`);
  const key = (r: { relation: string; item: string; group: string }) => [
    r.relation,
    r.item,
    r.group,
  ];
  const relations = [...state.relations].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  });
  for (const r of relations) {
    hash.update(
      `${canonical({ relation: r.relation, item: r.item, group: r.group, data: r.data })}\n`,
    );
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Response bodies, asserted field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface LogEntry {
  offset: bigint;
  op: WireOp;
}

interface HistoryItem {
  offset: string;
  operation: Record<string, unknown>;
  status: 'accepted' | 'rejected';
  reason?: string;
}

// Two random workloads, each through its own stack.
describe.each([16, 29])(
  'the log as data: history, time travel, explain, digest (workload seed %i)',
  (seed) => {
    let stack: TestStack;
    let producer: Producer;
    let queryUrl: string;
    let ingestUrl: string;
    const libraryId = randomUUID();
    let log: LogEntry[] = [];
    let lastOffset: bigint;

    const get = async (path: string): Promise<{ status: number; body: Json }> => {
      const res = await fetch(`${queryUrl}${path}`);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };

    /** Every item of a list, following nextCursor with a small page so paging is exercised. */
    const all = async (path: string, limit = 7): Promise<Json[]> => {
      const items: Json[] = [];
      let cursor: string | null = null;
      do {
        const sep = path.includes('?') ? '&' : '?';
        const page = await get(
          `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(page.status).toBe(200);
        items.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      return items;
    };

    const prefix = (x: bigint): WireOp[] => log.filter((e) => e.offset <= x).map((e) => e.op);

    beforeAll(async () => {
      stack = await startTestStack('log-as-data');
      ({ queryUrl, ingestUrl } = stack);

      // Straight to the topic: the workload's rejected ops would not pass the ingest's checks.
      const ops = withContestedRecords(
        randomWorkload(seed, { records: 30, ops: 700, rejectShare: 0.08 }),
        seededRandom(seed + 1),
      );
      const kafka = testKafka('log-as-data');
      producer = kafka.producer();
      await producer.connect();
      const admin = kafka.admin();
      await admin.connect();
      const before = await admin.fetchTopicOffsets(stack.topics.operationsTopic);
      await produce(producer, stack.topics.operationsTopic, opMessages(libraryId, ops));
      const after = await admin.fetchTopicOffsets(stack.topics.operationsTopic);
      await admin.disconnect();
      const grown = after.filter(
        (p) => BigInt(p.high) - BigInt(before.find((b) => b.partition === p.partition)!.high) > 0n,
      );
      expect(grown).toHaveLength(1);
      const base = BigInt(grown[0].high) - BigInt(ops.length);
      log = ops.map((op, i) => ({
        offset: base + BigInt(i),
        op: normalizeOp(op as unknown as WireOp, ref),
      }));
      lastOffset = log[log.length - 1].offset;
      const applied = await get(
        `/libraries/${libraryId}/status?minOffset=${lastOffset}&waitMs=30000`,
      );
      expect(applied.status).toBe(200);
    }, 180_000);

    afterAll(async () => {
      await producer?.disconnect();
      await stack?.close();
    });

    it('asOf=X equals the reference model fed the log prefix through X, record by record and relation by relation', async () => {
      const random = seededRandom(seed);
      const first = log[0].offset;
      const offsets = [
        first,
        ...Array.from({ length: 4 }, () => first + BigInt(Math.floor(random() * log.length))),
        lastOffset,
      ];
      for (const x of offsets) {
        const expected = referenceState(ref, prefix(x));
        const records = await all(`/libraries/${libraryId}/records?asOf=${x}`);
        expect(records).toEqual(expected.records);
        const relations = await all(`/libraries/${libraryId}/relations?asOf=${x}`);
        expect(relations).toEqual(expected.relations);
        const digest = await get(`/libraries/${libraryId}/digest?asOf=${x}`);
        expect(digest).toEqual({
          status: 200,
          body: {
            digest: expectedDigest(expected),
            appliedOffset: x.toString(),
            records: expected.records.length,
            relations: expected.relations.length,
          },
        });
        // One record at a time, visible or not at X.
        const visible = new Map(expected.records.map((r) => [r.id, r]));
        const ids = [...new Set(log.map((e) => e.op.recordId as string | undefined))].filter(
          (id): id is string => id !== undefined,
        );
        for (const id of ids.slice(0, 12)) {
          const one = await get(`/libraries/${libraryId}/records/${id}?asOf=${x}`);
          if (visible.has(id)) expect(one).toEqual({ status: 200, body: visible.get(id) });
          else expect(one.status).toBe(404);
        }
        // Filters select from the same state.
        const tags = await all(`/libraries/${libraryId}/records?model=Tag&asOf=${x}`, 3);
        expect(tags).toEqual(expected.records.filter((r) => r.model === 'Tag'));
      }
    }, 180_000);

    it('the live digest and lists equal the reference model over the whole log', async () => {
      const expected = referenceState(ref, prefix(lastOffset));
      expect(await all(`/libraries/${libraryId}/records`, 50)).toEqual(expected.records);
      const digest = await get(`/libraries/${libraryId}/digest`);
      expect(digest.status).toBe(200);
      expect(digest.body).toEqual({
        digest: expectedDigest(expected),
        appliedOffset: expect.any(String),
        records: expected.records.length,
        relations: expected.relations.length,
      });
      expect(BigInt(digest.body.appliedOffset)).toBeGreaterThanOrEqual(lastOffset);
      expect(Object.keys(digest.body)).toEqual(['digest', 'appliedOffset', 'records', 'relations']);
      // Two independent paths to one state: projection rows, and the engine over the whole log.
      const rebuilt = await get(`/libraries/${libraryId}/digest?asOf=${lastOffset}`);
      expect(rebuilt.body.digest).toBe(digest.body.digest);
    }, 60_000);

    it('history lists every op of sampled records and relation keys, in log order, with status and reason', async () => {
      const expected = referenceState(ref, prefix(lastOffset));
      const feed = new Set(expected.feed);
      const reasons = new Map<string, Set<string>>();
      for (const { identity, reason } of expected.rejected) {
        reasons.set(identity, (reasons.get(identity) ?? new Set()).add(reason));
      }
      const rejectedList = await all(`/libraries/${libraryId}/rejected`, 1000);
      const rejectedAt = new Map(rejectedList.map((r) => [r.offset as string, r.reason as string]));

      const check = (items: HistoryItem[], entries: LogEntry[]) => {
        // Log order, each op of the log listed once except exact re-sends of a listed op (D1).
        expect(items.map((i) => BigInt(i.offset))).toEqual(
          [...items.map((i) => BigInt(i.offset))].sort((a, b) => (a < b ? -1 : 1)),
        );
        const listed = new Map(items.map((i) => [i.offset, i]));
        const listedContent = new Set(items.map((i) => stableJson(i.operation)));
        let accepted = 0;
        for (const entry of entries) {
          const item = listed.get(entry.offset.toString());
          if (item === undefined) {
            expect(listedContent.has(stableJson(entry.op))).toBe(true);
            continue;
          }
          expect(stableJson(item.operation)).toBe(stableJson(entry.op));
          const identity = identityOf(entry.op);
          if (item.status === 'accepted') {
            accepted++;
            expect(item).not.toHaveProperty('reason');
            expect(feed.has(identity)).toBe(true);
          } else {
            expect(item.status).toBe('rejected');
            expect(feed.has(identity)).toBe(false);
            expect(reasons.get(identity)).toContain(item.reason);
            expect(rejectedAt.get(item.offset)).toBe(item.reason);
          }
        }
        expect(items.length).toBeLessThanOrEqual(entries.length);
        // Every op the model accepted for this key is listed as accepted, exactly once.
        const acceptedIds = new Set(
          entries.map((e) => identityOf(e.op)).filter((id) => feed.has(id)),
        );
        expect(accepted).toBe(acceptedIds.size);
      };

      const recordIds = [...new Set(log.map((e) => e.op.recordId as string | undefined))].filter(
        (id): id is string => id !== undefined,
      );
      let rejectedSeen = 0;
      for (const id of recordIds.slice(0, 15)) {
        const items = (await all(
          `/libraries/${libraryId}/records/${id}/history`,
          5,
        )) as HistoryItem[];
        check(
          items,
          log.filter((e) => e.op.recordId === id),
        );
        rejectedSeen += items.filter((i) => i.status === 'rejected').length;
      }
      expect(rejectedSeen).toBeGreaterThan(0);

      const relationKeys = [
        ...new Set(
          log
            .filter((e) => typeof e.op.relation === 'string')
            .map(
              (e) =>
                `${e.op.relation as string}|${e.op.relationItem as string}|${e.op.relationGroup as string}`,
            ),
        ),
      ];
      for (const key of relationKeys.slice(0, 10)) {
        const [relation, item, group] = key.split('|');
        const items = (await all(
          `/libraries/${libraryId}/relations/history?relation=${relation}&item=${item}&group=${group}`,
          4,
        )) as HistoryItem[];
        check(
          items,
          log.filter(
            (e) =>
              e.op.relation === relation &&
              e.op.relationItem === item &&
              e.op.relationGroup === group,
          ),
        );
      }

      expect(
        (await get(`/libraries/${libraryId}/records/${randomUUID()}/history`)).body,
      ).toMatchObject({
        error: 'NOT_FOUND',
      });
      const missing = await get(
        `/libraries/${libraryId}/relations/history?relation=TagOnObject&item=${randomUUID()}`,
      );
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({
        error: 'INVALID_PARAMETER',
        details: [{ path: 'group' }],
      });
    }, 120_000);

    it('explain names, for each written field, the op the reference model says won it', async () => {
      for (const x of [lastOffset, log[Math.floor(log.length / 2)].offset]) {
        const ops = prefix(x);
        const expected = referenceState(ref, ops);
        const feed = new Set(expected.feed);
        const firstOffset = new Map<string, bigint>();
        for (const entry of log) {
          if (entry.offset > x) break;
          const id = identityOf(entry.op);
          if (!firstOffset.has(id)) firstOffset.set(id, entry.offset);
        }
        for (const record of expected.records.slice(0, 15)) {
          // The winner of each field: the greatest (hybrid, node) among accepted ops writing it.
          const winners = new Map<string, WireOp>();
          for (const op of ops) {
            if (op.recordId !== record.id || !feed.has(identityOf(op))) continue;
            const fields =
              op.type === 'CREATE'
                ? Object.keys(op.data as object)
                : op.type === 'UPDATE'
                  ? [op.field as string]
                  : [];
            for (const field of fields) {
              const prior = winners.get(field);
              if (prior === undefined || later(op, prior)) winners.set(field, op);
            }
          }
          const path = `/libraries/${libraryId}/records/${record.id}?explain=true${x === lastOffset ? '' : `&asOf=${x}`}`;
          const { status, body } = await get(path);
          expect(status).toBe(200);
          expect({ id: body.id, model: body.model, data: body.data }).toEqual(record);
          const writes = Object.fromEntries(
            [...winners].map(([field, op]) => [
              field,
              {
                node: op.node,
                hybrid: op.timestamp.hybrid,
                offset: firstOffset.get(identityOf(op))!.toString(),
              },
            ]),
          );
          expect(body.writes).toEqual(writes);
        }
      }
      const plain = await get(
        `/libraries/${libraryId}/records/${referenceState(ref, prefix(lastOffset)).records[0].id}`,
      );
      expect(plain.body).not.toHaveProperty('writes');
    }, 120_000);

    it('snapshot?asOf=X holds the state as of X, in both views', async () => {
      for (const x of [log[Math.floor(log.length / 3)].offset, lastOffset]) {
        const expected = referenceState(ref, prefix(x));
        const full = await fetch(`${queryUrl}/libraries/${libraryId}/snapshot?asOf=${x}`);
        expect(full.status).toBe(200);
        const contents = decodeSnapshot(await full.text());
        expect(contents.offset).toBe(x);
        expect(materializeSlice(defaultSchema(), contents.slice)).toEqual({
          records: expected.records,
          relations: expected.relations,
        });
        const visible = await fetch(
          `${queryUrl}/libraries/${libraryId}/snapshot?asOf=${x}&view=visible`,
        );
        const lines = (await visible.text())
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(lines[0]).toMatchObject({ type: 'snapshot', offset: x.toString(), view: 'visible' });
        const rows = (type: string) =>
          lines.filter((l) => l.type === type).map(({ type: _, ...row }) => row);
        expect(rows('record')).toEqual(expected.records);
        expect(rows('relation')).toEqual(expected.relations);
        expect(lines[lines.length - 1]).toEqual({
          type: 'end',
          records: expected.records.length,
          relations: expected.relations.length,
        });
      }
    }, 60_000);

    it('three client nodes verify their state against the server digest; a corrupted one does not', async () => {
      const library = randomUUID();
      const transport = new SyncHttpTransport({ ingestUrl, queryUrl });
      const stores = [new MemoryStore(), new MemoryStore(), new MemoryStore()];
      const nodes = await Promise.all(
        stores.map((store) => SyncNode.open({ libraryId: library, transport, store })),
      );
      const [a, b, c] = nodes;
      const tag = await a.create('Tag', { name: 'work' });
      const object = await b.create('Object', { note: 'x.pdf' });
      await a.sync();
      await b.sync();
      await c.sync();
      await c.update('Tag', tag.recordId, { color: '#123' });
      await b.link('TagOnObject', object.recordId, tag.recordId);
      await a.update('Tag', tag.recordId, { name: 'jobs' });
      const gone = await a.create('Album', { name: 'gone' });
      await a.delete('Album', gone.recordId);
      await c.sync();
      expect(c.outbox()).toEqual([]);
      for (const node of nodes) await node.sync();
      const reports = [];
      for (const node of nodes) reports.push(await node.sync());
      expect(reports.map((r) => r.verified)).toEqual([true, true, true]);
      const server = await get(`/libraries/${library}/digest`);
      expect(a.digest()).toEqual({
        digest: server.body.digest,
        records: server.body.records,
        relations: server.body.relations,
      });
      expect(server.body).toMatchObject({ records: 2, relations: 1 });

      const warnings: string[] = [];
      // A local state that no longer matches its feed position: a record lost its name.
      const stored = await stores[0].load();
      const replica = stored.replica!;
      // Merged from the feed (never bootstrapped), so a decoded row rather than a snapshot line.
      const record = replica.slice.records.find((r) => r.recordId === tag.recordId) as StoredRecord;
      record.fields = { ...record.fields, name: { ...record.fields.name, value: 'tampered' } };
      await stores[0].saveReplica(replica);
      const corrupted = await SyncNode.open({
        libraryId: library,
        transport,
        store: stores[0],
        logger: { warn: (message) => warnings.push(message) },
      });
      expect((await corrupted.sync()).verified).toBe(false);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('Tag 1/1');
      expect(warnings[0]).toContain(server.body.digest);
    }, 120_000);

    it('the CLI prints a record history and the digest, as of an offset too', async () => {
      const cli = async (...argv: string[]) => {
        let out = '';
        let err = '';
        const code = await runCli([...argv, '--query-url', queryUrl], {
          out: (text) => (out += text),
          err: (text) => (err += text),
          progress: () => undefined,
          stdin: () => '',
          env: {},
        });
        return { code, out, err };
      };
      const x = log[Math.floor(log.length / 2)].offset;
      const digest = await cli('digest', libraryId, '--as-of', x.toString());
      expect(digest.code).toBe(0);
      expect(JSON.parse(digest.out)).toMatchObject({
        digest: expectedDigest(referenceState(ref, prefix(x))),
        appliedOffset: x.toString(),
      });
      const recordId = log.find((e) => e.op.type === 'CREATE' && e.op.recordId)!.op
        .recordId as string;
      const items = (await all(
        `/libraries/${libraryId}/records/${recordId}/history`,
        1000,
      )) as HistoryItem[];
      const printed = await cli('history', libraryId, recordId);
      expect(printed.code).toBe(0);
      const lines = printed.out.trim().split('\n');
      expect(lines).toHaveLength(items.length);
      lines.forEach((line, i) => {
        expect(line.trim().startsWith(items[i].offset)).toBe(true);
        expect(line).toContain(items[i].operation.node as string);
        expect(line.includes('REJECTED')).toBe(items[i].status === 'rejected');
      });
      expect((await cli('history', libraryId)).code).toBe(2);
    }, 60_000);

    it('asOf below what a compaction consulted answers 410 SNAPSHOT_REQUIRED; from there on it is exact', async () => {
      const pool = new Pool({ connectionString: stack.database.url, max: 2 });
      try {
        const result = await new RetentionRepository(pool).compact(libraryId, {
          horizon: lastOffset + 1n,
        });
        expect(result.removed).toBeGreaterThan(0);
      } finally {
        await pool.end();
      }
      const below = await get(`/libraries/${libraryId}/records?asOf=${log[0].offset}`);
      expect(below.status).toBe(410);
      expect(below.body).toMatchObject({
        error: 'SNAPSHOT_REQUIRED',
        details: [{ horizon: expect.any(String), asOf: log[0].offset.toString() }],
      });
      for (const path of [
        `records/${log.find((e) => e.op.recordId)!.op.recordId as string}`,
        'relations',
        'digest',
        'snapshot',
      ]) {
        const res = await fetch(`${queryUrl}/libraries/${libraryId}/${path}?asOf=${log[0].offset}`);
        expect(res.status).toBe(410);
      }
      const horizon = BigInt(below.body.details[0].horizon as string);
      expect(horizon).toBeLessThanOrEqual(lastOffset);
      const expected = referenceState(ref, prefix(lastOffset));
      const digest = await get(`/libraries/${libraryId}/digest?asOf=${horizon}`);
      expect(digest.status).toBe(200);
      expect(digest.body.digest).toBe(expectedDigest(referenceState(ref, prefix(horizon))));
      expect(await all(`/libraries/${libraryId}/records?asOf=${lastOffset}`, 100)).toEqual(
        expected.records,
      );
    }, 60_000);

    it('documents the new routes and parameters in OpenAPI', async () => {
      const doc = (await get('/docs-json')).body;
      const params = (path: string) =>
        ((doc.paths[path]?.get?.parameters ?? []) as { name: string; required?: boolean }[]).map(
          (p) => p.name,
        );
      for (const path of [
        '/libraries/{libraryId}/records',
        '/libraries/{libraryId}/records/{recordId}',
        '/libraries/{libraryId}/relations',
        '/libraries/{libraryId}/snapshot',
        '/libraries/{libraryId}/digest',
      ]) {
        expect(params(path)).toContain('asOf');
        expect(doc.paths[path].get.responses['410']).toBeDefined();
      }
      expect(params('/libraries/{libraryId}/records/{recordId}')).toContain('explain');
      expect(params('/libraries/{libraryId}/records/{recordId}/history')).toEqual(
        expect.arrayContaining(['libraryId', 'recordId', 'limit', 'cursor', 'minOffset', 'waitMs']),
      );
      const relationHistory = doc.paths['/libraries/{libraryId}/relations/history'].get;
      for (const name of ['relation', 'item', 'group']) {
        expect(relationHistory.parameters).toContainEqual(
          expect.objectContaining({ name, required: true }),
        );
      }
      expect(doc.components.schemas.DigestDto.required).toEqual([
        'digest',
        'appliedOffset',
        'records',
        'relations',
      ]);
      expect(doc.components.schemas.HistoryEntryDto.properties).toHaveProperty('reason');
      expect(doc.components.schemas.RecordDto.properties).toHaveProperty('writes');
    });

    it('asOf beyond the applied offset waits like minOffset, then 503 NOT_YET_APPLIED', async () => {
      const res = await get(
        `/libraries/${libraryId}/records?asOf=${lastOffset + 1000n}&waitMs=200`,
      );
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'NOT_YET_APPLIED' });
      const bad = await get(`/libraries/${libraryId}/digest?asOf=-1`);
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: 'INVALID_PARAMETER', details: [{ path: 'asOf' }] });
    });
  },
);

/**
 * Adds records whose outcome depends on log order (randomWorkload's do not, by design): owned
 * Locations created by two nodes (the first CREATE in the log fixes the owner, R5; an update
 * by the other node sent before any CREATE waits and is then rejected, NOT_OWNER) and shared
 * records created with two models (MODEL_MISMATCH for the later one, R4). The first CREATE is
 * early in the log and the competing one late, so states as of offsets in between must show the
 * decisions as the log made them: the early update accepted while it waits, then rejected.
 */
function withContestedRecords(ops: Operation[], random: () => number): Operation[] {
  let hybrid = hybridFromMillis(1_765_000_000_000);
  const stamp = () => (hybrid += 16n).toString();
  const out = [...ops];
  // Each op at a random position within its share of the log (fractions from, to); the shares
  // rise, so the sequence keeps its order, and contested CREATEs sit far apart.
  const insertInOrder = (sequence: [Operation, number, number][]) => {
    const positions = sequence
      .map(([, from, to]) => Math.floor((from + random() * (to - from)) * ops.length))
      .sort((a, b) => a - b);
    // From the back, so earlier positions stay valid; equal positions keep the sequence order.
    for (let i = sequence.length - 1; i >= 0; i--) out.splice(positions[i], 0, sequence[i][0]);
  };
  for (let k = 0; k < 4; k++) {
    const id = randomUUID();
    insertInOrder([
      [op.update(nodes.a, stamp(), id, 'name', `early-${k}`), 0, 0.05],
      [op.create(nodes.b, stamp(), id, 'Location', { name: `b-${k}` }), 0.05, 0.1],
      [op.create(nodes.a, stamp(), id, 'Location', { name: `a-${k}` }), 0.5, 0.9],
      [op.update(nodes.b, stamp(), id, 'path', `/b/${k}`, 'Location'), 0.9, 1],
    ]);
  }
  for (let k = 0; k < 3; k++) {
    const id = randomUUID();
    insertInOrder([
      [op.create(nodes.a, stamp(), id, 'Tag', { name: `tag-${k}` }), 0, 0.1],
      [op.create(nodes.c, stamp(), id, 'Label', { name: `label-${k}` }), 0.5, 0.9],
      [op.update(nodes.b, stamp(), id, 'name', `renamed-${k}`), 0.9, 1],
    ]);
  }
  return out;
}

/** Op order of section 2: hybrid, then node. */
function later(a: WireOp, b: WireOp): boolean {
  const [x, y] = [BigInt(a.timestamp.hybrid), BigInt(b.timestamp.hybrid)];
  return x !== y ? x > y : a.node > b.node;
}
