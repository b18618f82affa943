import {
  type LoggedOperation,
  type Operation,
  emptySlice,
  materializeSlice,
  mergeBatch,
} from '@sync/protocol';
import {
  type WireOp,
  identityOf,
  referenceSchema,
  referenceState,
} from '../support/reference-model';
import { randomWorkload, schema, seededRandom } from '../projector.harness';
import { FaultWorkload } from './support/workload';

/*
 * The fault suite's verdicts are only as good as its reference model, so the model is checked
 * twice: against the contract's rules directly (hand-written cases), and against the production
 * merge engine on random workloads with rejections, duplicates, ties and out-of-order ops
 * (two independent implementations must agree). Pure computation: no broker, no database.
 */

const ref = referenceSchema();
const A = '0a0a0a0a-0000-4000-8000-00000000000a';
const B = '0b0b0b0b-0000-4000-8000-00000000000b';
const R1 = '11111111-1111-4111-8111-111111111111';
const R2 = '22222222-2222-4222-8222-222222222222';
const H = (n: number) => String(7_000_000_000_000_000_000n + BigInt(n) * 16n);

const create = (node: string, h: number, recordId: string, model: string, data = {}): WireOp => ({
  type: 'CREATE',
  recordId,
  model,
  data,
  node,
  timestamp: { hybrid: H(h) },
});
const update = (
  node: string,
  h: number,
  recordId: string,
  field: string,
  value: unknown,
  model?: string,
): WireOp => ({
  type: 'UPDATE',
  recordId,
  ...(model ? { model } : {}),
  field,
  value,
  node,
  timestamp: { hybrid: H(h) },
});
const del = (node: string, h: number, recordId: string, model?: string): WireOp => ({
  type: 'DELETE',
  recordId,
  ...(model ? { model } : {}),
  node,
  timestamp: { hybrid: H(h) },
});
const rel = (
  type: 'CREATE' | 'DELETE',
  node: string,
  h: number,
  item: string,
  group: string,
): WireOp => ({
  type,
  relationItem: item,
  relationGroup: group,
  relation: 'TagOnObject',
  node,
  timestamp: { hybrid: H(h) },
});

describe('reference model: the contract rules', () => {
  it('R2: greatest write wins by (hybrid, node), whatever the log order; ties go to the greater node', () => {
    const s = referenceState(ref, [
      update(A, 5, R1, 'name', 'late-a'),
      update(B, 5, R1, 'name', 'late-b'), // same hybrid, greater node
      create(A, 1, R1, 'Tag', { name: 'first', color: 'red' }),
      update(A, 3, R1, 'color', 'blue'),
      update(B, 2, R1, 'color', 'green'),
    ]);
    expect(s.records).toEqual([
      {
        id: R1,
        model: 'Tag',
        data: {
          name: 'late-b',
          color: 'blue',
          is_hidden: null,
          date_created: null,
          date_modified: null,
        },
      },
    ]);
    // The UPDATEs logged before the CREATE took effect when it came: nothing stays pending.
    expect(s.pending).toBe(0);
  });

  it('R1/R3: an UPDATE or DELETE before its CREATE waits; DELETE is permanent', () => {
    const s = referenceState(ref, [
      del(A, 1, R1),
      create(A, 9, R1, 'Tag', { name: 'x' }),
      update(B, 10, R2, 'name', 'waits'),
    ]);
    expect(s.records).toEqual([]);
    expect(s.feed).toHaveLength(3);
    expect(s.pending).toBe(1); // R2 has no CREATE
  });

  it('R4/R5: model and owner come from the first CREATE in log order, also for ops logged before it', () => {
    const s = referenceState(ref, [
      update(B, 1, R1, 'name', 'intruder'),
      create(A, 5, R1, 'Location', { name: 'home' }),
      create(A, 2, R1, 'Tag', { name: 'other model' }),
      update(A, 6, R1, 'color', 'not a Location field', 'Location'),
      update(A, 7, R1, 'path', '/x'),
    ]);
    expect(s.records.map((r) => [r.model, r.data.name, r.data.path])).toEqual([
      ['Location', 'home', '/x'],
    ]);
    expect(s.rejected.map((r) => r.reason).sort()).toEqual([
      'MODEL_MISMATCH',
      'NOT_OWNER',
      'UNKNOWN_FIELD',
    ]);
  });

  it('L1/L3: a relation can be removed and added again, and is visible only between visible records', () => {
    const object = R1;
    const tag = R2;
    const base = [create(A, 1, object, 'Object'), create(A, 2, tag, 'Tag')];
    const added = referenceState(ref, [
      ...base,
      rel('CREATE', A, 5, object, tag),
      rel('DELETE', B, 4, object, tag),
    ]);
    expect(added.relations).toHaveLength(1);
    const removed = referenceState(ref, [
      ...base,
      rel('CREATE', A, 5, object, tag),
      rel('DELETE', B, 5, object, tag),
    ]);
    expect(removed.relations).toHaveLength(0); // tie: B > A
    const waiting = referenceState(ref, [
      create(A, 2, tag, 'Tag'),
      rel('CREATE', A, 5, object, tag),
    ]);
    expect(waiting.relations).toHaveLength(0);
    const gone = referenceState(ref, [...base, rel('CREATE', A, 5, object, tag), del(A, 6, tag)]);
    expect(gone.relations).toHaveLength(0);
  });

  it('D1: identical re-sends are duplicates, different content under one identity is a conflict', () => {
    const op = create(A, 1, R1, 'Tag', { name: 'x' });
    const s = referenceState(ref, [op, { ...op }, { ...op, data: { name: 'y' } }]);
    expect(s.duplicates).toBe(1);
    expect(s.feed).toEqual([identityOf(op)]);
    expect(s.rejected).toEqual([{ identity: identityOf(op), reason: 'DUPLICATE_CONFLICT' }]);
    expect(s.records[0].data.name).toBe('x');
  });
});

/** What the production engine makes of a log, merged in batches of random sizes. */
function production(ops: readonly Operation[], random: () => number) {
  const logged: LoggedOperation[] = ops.map((op, i) => ({ offset: BigInt(i), op }));
  let slice = emptySlice();
  const feed = new Set<string>();
  const rejected = new Set<string>();
  for (let i = 0; i < logged.length;) {
    const size = 1 + Math.floor(random() * 200);
    const result = mergeBatch(schema, slice, logged.slice(i, i + size));
    slice = result.slice;
    for (const { op } of result.accepted) feed.add(identityOf(op));
    for (const offset of result.revoked) feed.delete(identityOf(logged[Number(offset)].op));
    for (const r of result.rejections) rejected.add(`${identityOf(r.op)}/${r.reason}`);
    i += size;
  }
  return { state: materializeSlice(schema, slice), feed, rejected };
}

describe('reference model against the production merge engine', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`agrees on a random workload with rejections, duplicates and ties (seed ${seed})`, () => {
      const ops = randomWorkload(seed, { records: 40 + seed * 10, ops: 1500, rejectShare: 0.08 });
      const expected = referenceState(ref, ops as unknown as WireOp[]);
      const actual = production(ops, seededRandom(seed));
      expect(actual.state.records).toEqual(expected.records);
      expect(actual.state.relations).toEqual(expected.relations);
      expect([...actual.feed].sort()).toEqual([...expected.feed].sort());
      expect([...actual.rejected].sort()).toEqual(
        [...new Set(expected.rejected.map((r) => `${r.identity}/${r.reason}`))].sort(),
      );
      // The workload is not trivial: every rule had something to decide.
      expect(expected.rejected.length).toBeGreaterThan(10);
      expect(expected.duplicates).toBeGreaterThan(10);
      expect(expected.relations.length).toBeGreaterThan(0);
    });
  }

  it('agrees on the fault suite workload (what the fault scenarios send)', () => {
    const workload = new FaultWorkload({ seed: 7, libraries: 3, recordsPerLibrary: 60 });
    for (let i = 0; i < 30; i++) {
      for (const library of workload.libraries) workload.nextBatch(library, 100);
    }
    for (const library of workload.libraries) {
      const ops = workload.generated(library);
      const expected = referenceState(ref, ops);
      const actual = production(ops as unknown as Operation[], seededRandom(9));
      expect(actual.state.records).toEqual(expected.records);
      expect(actual.state.relations).toEqual(expected.relations);
      expect([...actual.feed].sort()).toEqual([...expected.feed].sort());
      // A valid workload: nothing is rejected, whichever subset of it gets through.
      expect(expected.rejected).toEqual([]);
      expect(actual.rejected.size).toBe(0);
      expect(expected.records.length).toBeGreaterThan(10);
      expect(expected.relations.length).toBeGreaterThan(0);
      expect(expected.pending).toBeGreaterThan(0);
      expect(expected.duplicates).toBeGreaterThan(0);
    }
  });
});
