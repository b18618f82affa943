import fc from 'fast-check';
import {
  type LibrarySlice,
  defaultSchema,
  emptySlice,
  materializeSlice,
  mergeBatch,
} from '@sync/protocol';
import { NODE_A, NODE_B, createOp, logged, rid, smallWorldOp } from '@sync/protocol/testing';
import { decodeSlice, encodeSlice, encodeSliceRows, storedSliceRows } from './slice-codec';
import { OverlayTable, SliceTable, mergeRows } from './slice-rows';

/*
 * The client's row-level plumbing around the protocol's merge engine: merging only the touched
 * rows (whole table or overlay) must give exactly what mergeBatch gives on the whole slice, and
 * the JSON codec must lose nothing the engine uses.
 */

const schema = defaultSchema();

const opArb = smallWorldOp({
  nodes: [NODE_A, NODE_B],
  maxTick: 30,
  tags: 1,
  objects: 1,
  schemaInvalid: true,
});

/** A random op sequence and a random cut of it into consecutive batches. */
const chunkedArb = fc
  .tuple(fc.array(opArb, { maxLength: 40 }), fc.array(fc.nat(40), { maxLength: 6 }))
  .map(([ops, cuts]) => {
    const points = [...new Set(cuts.map((c) => Math.min(c, ops.length)))].sort((a, b) => a - b);
    const all = logged(ops);
    const chunks = [];
    let start = 0;
    for (const p of [...points, all.length]) {
      chunks.push(all.slice(start, p));
      start = p;
    }
    return { all, chunks };
  });

/** A slice in plain Maps (a SliceTable keeps its records packed), for toEqual. */
function copy(slice: LibrarySlice): LibrarySlice {
  return {
    records: new Map(slice.records),
    pending: new Map(slice.pending),
    relations: new Map(slice.relations),
    accepted: new Map(slice.accepted),
  };
}

describe('mergeRows', () => {
  it('merging touched rows batch by batch equals mergeBatch on the whole slice', () => {
    fc.assert(
      fc.property(chunkedArb, ({ all, chunks }) => {
        const table = new SliceTable();
        for (const chunk of chunks) mergeRows(schema, table, chunk);
        const whole = mergeBatch(schema, emptySlice(), all).slice;
        expect(copy(table.slice)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('merging over an overlay shows what merging into the base would, and leaves the base alone', () => {
    fc.assert(
      fc.property(chunkedArb, chunkedArb, (base, top) => {
        const table = new SliceTable();
        mergeRows(schema, table, base.all);
        const before = copy(table.slice);
        const overlay = new OverlayTable(table);
        // Offsets after the base's, as for local ops over the confirmed log.
        const later = top.all.map((l) => ({ ...l, offset: l.offset + 1000n }));
        mergeRows(schema, overlay, later);
        expect(copy(table.slice)).toEqual(before);

        const expected = mergeBatch(schema, copy(before), later).slice;
        const seen = copy(before);
        for (const [id, row] of overlay.records) seen.records.set(id, row);
        for (const [key, row] of overlay.relations) seen.relations.set(key, row);
        for (const [id, rows] of overlay.pendingRows) {
          if (rows === undefined) seen.pending.delete(id);
          else seen.pending.set(id, rows);
        }
        for (const [key, row] of overlay.acceptedRows) {
          if (row === undefined) seen.accepted.delete(key);
          else seen.accepted.set(key, row);
        }
        expect(seen).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('does not write back when commit says no', () => {
    const table = new SliceTable();
    const result = mergeRows(
      schema,
      table,
      logged([createOp(rid(1), 'Tag', { name: 'x' }, NODE_A, 1)]),
      () => false,
    );
    expect(result.changedRecords).toHaveLength(1);
    expect(copy(table.slice)).toEqual(emptySlice());
  });
});

describe('slice codec', () => {
  it('round-trips through JSON text and merges on exactly as before', () => {
    fc.assert(
      fc.property(chunkedArb, fc.array(opArb, { maxLength: 10 }), ({ all }, more) => {
        const slice = mergeBatch(schema, emptySlice(), all).slice;
        const decoded = decodeSlice(JSON.parse(JSON.stringify(encodeSlice(slice))));
        expect(copy(decoded)).toEqual(slice);
        const next = logged(more, 100n);
        expect(mergeBatch(schema, decoded, next)).toEqual(mergeBatch(schema, slice, next));
        expect(materializeSlice(schema, decoded)).toEqual(materializeSlice(schema, slice));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a slice row by row exactly as it encodes it whole', () => {
    fc.assert(
      fc.property(chunkedArb, ({ all }) => {
        const slice = mergeBatch(schema, emptySlice(), all).slice;
        expect([...encodeSliceRows(slice)]).toEqual([...storedSliceRows(encodeSlice(slice))]);
      }),
      { numRuns: 200 },
    );
  });
});
