import fc from 'fast-check';
import { formatHybrid, hybridFromMillis } from '../hlc/ntp64';
import type { JsonValue } from '../json';
import { type Operation, opIdentityKey } from '../operation/operation.types';
import { defaultSchema } from '../schema/default-schema';
import {
  BASE_MS,
  NODE_A,
  NODE_B,
  NODE_C,
  createOp,
  deleteOp,
  relCreateOp,
  relDeleteOp,
  relUpdateOp,
  rid,
  updateOp,
} from '../testing/operation-builders';
import { materializeSlice } from './materialize';
import { emptySlice, mergeBatch } from './merge-engine';
import type { LibrarySlice, LoggedOperation } from './merge.types';
import { isSuperseded, supersededOffsets } from './supersession';

const schema = defaultSchema();
const NODES = [NODE_A, NODE_B, NODE_C];
const RECORDS = [
  { id: rid(1), model: 'Tag', fields: ['name', 'color', 'is_hidden'] },
  { id: rid(2), model: 'Object', fields: ['note', 'favorite', 'kind'] },
  { id: rid(3), model: 'Object', fields: ['note', 'favorite', 'kind'] },
  { id: rid(5), model: 'Location', fields: ['name', 'path'], owner: NODE_A },
];
const RELATIONS = [
  { relation: 'TagOnObject', item: rid(2), group: rid(1) },
  { relation: 'TagOnObject', item: rid(3), group: rid(1) },
];
const VALUES: Record<string, JsonValue[]> = {
  name: ['a', 'b', null],
  color: ['red', 'blue'],
  is_hidden: [true, false],
  note: ['x', 'y', null],
  favorite: [true, false],
  kind: [1, 2, 3],
  path: ['/a', '/b'],
  date_created: ['2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'],
};

const hybridArb = fc
  .tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 3 }))
  .map(([tick, counter]) => formatHybrid(hybridFromMillis(BASE_MS + tick, counter)));

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length];
}

/** One random op: record CREATE/UPDATE/DELETE (owned records only created by their owner), relation ops. */
const opArb: fc.Arbitrary<Operation> = fc
  .tuple(fc.nat(99), fc.nat(), fc.nat(), fc.nat(), fc.constantFrom(...NODES), hybridArb)
  .map(([dice, a, b, c, node, hybrid]): Operation => {
    const timestamp = { hybrid };
    if (dice < 65) {
      const rec = pick(RECORDS, a);
      const field = pick(rec.fields, b);
      const value = pick(VALUES[field], c);
      if (dice < 20) {
        const data = Object.fromEntries(
          rec.fields.filter((_, i) => ((c >> i) & 1) === 1).map((f) => [f, pick(VALUES[f], b)]),
        );
        return { ...createOp(rec.id, rec.model, data, rec.owner ?? node, 0), timestamp };
      }
      if (dice < 58) return { ...updateOp(rec.id, field, value, node, 0), timestamp };
      return { ...deleteOp(rec.id, node, 0), timestamp };
    }
    const rel = pick(RELATIONS, a);
    if (dice < 80) {
      const data = b % 2 === 0 ? undefined : { date_created: pick(VALUES.date_created, c) };
      return { ...relCreateOp(rel.relation, rel.item, rel.group, node, 0, data), timestamp };
    }
    if (dice < 90) {
      return {
        ...relUpdateOp(
          rel.relation,
          rel.item,
          rel.group,
          'date_created',
          pick(VALUES.date_created, c),
          node,
          0,
        ),
        timestamp,
      };
    }
    return { ...relDeleteOp(rel.relation, rel.item, rel.group, node, 0), timestamp };
  });

/** Distinct identities (a reused identity with other content is a conflict, not a workload). */
const workloadArb = fc.array(opArb, { minLength: 1, maxLength: 60 }).map((ops) => {
  const seen = new Set<string>();
  return ops.filter((op) => {
    const key = opIdentityKey(op);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
});

/** A projector in miniature: the state and the feed (accepted, minus revoked) after `ops`. */
class Library {
  state: LibrarySlice = emptySlice();
  feed: LoggedOperation[] = [];
  private next = 0n;

  apply(ops: readonly Operation[]): void {
    const batch = ops.map((op) => ({ offset: this.next++, op }));
    const result = mergeBatch(schema, this.state, batch);
    this.state = result.slice;
    const revoked = new Set(result.revoked);
    this.feed = [...this.feed.filter((e) => !revoked.has(e.offset)), ...result.accepted];
  }

  compact(horizon: bigint): bigint[] {
    const dropped = supersededOffsets(this.feed, this.state, horizon);
    const gone = new Set(dropped);
    this.feed = this.feed.filter((e) => !gone.has(e.offset));
    return dropped;
  }
}

function replay(prefix: readonly LoggedOperation[], rest: readonly LoggedOperation[]) {
  const first = mergeBatch(schema, emptySlice(), prefix).slice;
  return materializeSlice(schema, mergeBatch(schema, first, rest).slice);
}

describe('supersession (op-log compaction rules)', () => {
  it('replaying the compacted feed gives the full feed state, from the start or from any position', () => {
    fc.assert(
      fc.property(workloadArb, fc.nat(), fc.nat(), (ops, horizonSeed, splitSeed) => {
        const library = new Library();
        library.apply(ops);
        const full = [...library.feed];
        const expected = materializeSlice(schema, library.state);
        expect(replay(full, [])).toEqual(expected);

        const horizon = BigInt(horizonSeed % (ops.length + 2));
        library.compact(horizon);
        const compacted = library.feed;
        // From the start (what a node that bootstraps by replaying would get).
        expect(replay([], compacted)).toEqual(expected);
        // A node that holds the full feed through `split`, then pulls the compacted feed past it.
        const split = BigInt(splitSeed % (ops.length + 1)) - 1n;
        expect(
          replay(
            full.filter((e) => e.offset <= split),
            compacted.filter((e) => e.offset > split),
          ),
        ).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('stays exact over repeated compactions while the library keeps growing', () => {
    fc.assert(
      fc.property(workloadArb, workloadArb, fc.nat(), fc.nat(), (first, second, h1, h2) => {
        const seen = new Set(first.map(opIdentityKey));
        const later = second.filter((op) => !seen.has(opIdentityKey(op)));
        const library = new Library();
        const reference = new Library();
        library.apply(first);
        reference.apply(first);
        library.compact(BigInt(h1 % (first.length + 1)));
        library.apply(later);
        reference.apply(later);
        library.compact(BigInt(h2 % (first.length + later.length + 1)));

        const expected = materializeSlice(schema, reference.state);
        expect(materializeSlice(schema, library.state)).toEqual(expected);
        expect(replay([], library.feed)).toEqual(expected);
        // Compaction only drops: every kept entry is the same entry of the uncompacted feed.
        const byOffset = new Map(reference.feed.map((e) => [e.offset, e.op]));
        for (const entry of library.feed) expect(byOffset.get(entry.offset)).toEqual(entry.op);
      }),
      { numRuns: 300 },
    );
  });

  it('never drops anything at or above the horizon, nor the winner of any field or presence', () => {
    fc.assert(
      fc.property(workloadArb, fc.nat(), (ops, horizonSeed) => {
        const library = new Library();
        library.apply(ops);
        const horizon = BigInt(horizonSeed % (ops.length + 1));
        const dropped = new Set(supersededOffsets(library.feed, library.state, horizon));
        for (const { offset, op } of library.feed) {
          if (!dropped.has(offset)) continue;
          expect(offset < horizon).toBe(true);
          expect(isSuperseded(op, library.state)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  describe('examples', () => {
    const tag = rid(1);
    const object = rid(2);

    function superseded(ops: Operation[]): number[] {
      const library = new Library();
      library.apply(ops);
      return library.compact(BigInt(ops.length)).map(Number);
    }

    it('drops an overwritten field write and keeps the greater one and the CREATE', () => {
      expect(
        superseded([
          createOp(tag, 'Tag', { name: 'a' }, NODE_A, 1),
          updateOp(tag, 'name', 'b', NODE_A, 2),
          updateOp(tag, 'name', 'c', NODE_B, 3),
          updateOp(tag, 'color', 'red', NODE_B, 4),
        ]),
      ).toEqual([1]);
    });

    it('a write that lost on arrival (smaller clock, later offset) is dropped too', () => {
      expect(
        superseded([
          createOp(tag, 'Tag', {}, NODE_A, 1),
          updateOp(tag, 'name', 'new', NODE_A, 9),
          updateOp(tag, 'name', 'old', NODE_B, 5),
        ]),
      ).toEqual([2]);
    });

    it('keeps CREATE and DELETE of a deleted record and drops its updates', () => {
      expect(
        superseded([
          createOp(tag, 'Tag', { name: 'a' }, NODE_A, 1),
          updateOp(tag, 'color', 'red', NODE_A, 2),
          deleteOp(tag, NODE_B, 3),
          updateOp(tag, 'name', 'late', NODE_A, 4),
        ]),
      ).toEqual([1, 3]);
    });

    it('keeps ops still pending for a CREATE that has not arrived', () => {
      expect(
        superseded([updateOp(tag, 'name', 'a', NODE_A, 1), updateOp(tag, 'name', 'b', NODE_A, 2)]),
      ).toEqual([]);
    });

    it('drops relation CREATE/DELETE superseded by a greater one, keeping field winners', () => {
      const date = '2024-01-01T00:00:00Z';
      expect(
        superseded([
          relCreateOp('TagOnObject', object, tag, NODE_A, 1, { date_created: date }),
          relDeleteOp('TagOnObject', object, tag, NODE_A, 2),
          relCreateOp('TagOnObject', object, tag, NODE_B, 3),
          relDeleteOp('TagOnObject', object, tag, NODE_B, 4),
          relCreateOp('TagOnObject', object, tag, NODE_C, 5),
        ]),
        // The first CREATE still holds the only date_created write.
      ).toEqual([1, 2, 3]);
    });
  });
});
