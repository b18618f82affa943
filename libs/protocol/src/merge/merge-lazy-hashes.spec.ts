import fc from 'fast-check';
import { defaultSchema } from '../schema/default-schema';
import { NODE_A, NODE_B, logged } from '../testing/operation-builders';
import { smallWorldOp } from '../testing/op-arbitrary';
import { emptySlice, mergeBatch } from './merge-engine';
import { AcceptedIdentity, LibrarySlice, MergeResult } from './merge.types';

/*
 * lazyHashes changes when content hashes are computed, nothing else: over random batches with
 * duplicates, conflicts, pending ops and rejections, merged into a slice that already holds
 * identities, the result equals the default one once its hashes are read.
 */

const schema = defaultSchema();
// Two nodes and few ticks: identities collide often (D1 duplicates and conflicts).
const opArb = smallWorldOp({
  nodes: [NODE_A, NODE_B],
  maxTick: 8,
  tags: 2,
  objects: 2,
  schemaInvalid: true,
});

const plain = ({ offset, contentHash }: AcceptedIdentity): AcceptedIdentity => ({
  offset,
  contentHash,
});

function readHashes(result: MergeResult): unknown {
  return {
    ...result,
    accepted: result.accepted.map(({ offset, op, contentHash }) => ({ offset, op, contentHash })),
    slice: {
      ...result.slice,
      accepted: new Map([...result.slice.accepted].map(([key, a]) => [key, plain(a)])),
    },
  };
}

const withPlainIdentities = (slice: LibrarySlice): LibrarySlice => ({
  ...slice,
  accepted: new Map([...slice.accepted].map(([key, a]) => [key, plain(a)])),
});

describe('mergeBatch lazyHashes', () => {
  it('gives the default result, hashes read', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 30 }),
        fc.array(opArb, { maxLength: 30 }),
        fc.boolean(),
        (first, second, lazyFirst) => {
          // The first batch merged either way: a later batch meets plain or lazy identities.
          const base = mergeBatch(schema, emptySlice(), logged(first), { lazyHashes: lazyFirst });
          const baseSlice = lazyFirst ? base.slice : withPlainIdentities(base.slice);
          const batch = logged(second, 100n);
          const eager = mergeBatch(schema, withPlainIdentities(baseSlice), batch);
          const lazy = mergeBatch(schema, baseSlice, batch, { lazyHashes: true });
          expect(readHashes(lazy)).toEqual(readHashes(eager));
          expect(readHashes(base)).toEqual(
            readHashes(mergeBatch(schema, emptySlice(), logged(first))),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
