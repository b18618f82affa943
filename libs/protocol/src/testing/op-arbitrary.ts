import fc from 'fast-check';
import type { Operation } from '../operation';
import {
  createOp,
  deleteOp,
  relCreateOp,
  relDeleteOp,
  relUpdateOp,
  rid,
  updateOp,
} from './operation-builders';

export interface SmallWorld {
  nodes: readonly string[];
  /** Ticks are drawn from 0 to this. */
  maxTick: number;
  /** Tags rid(1)…rid(tags) and objects rid(10)…: few, so that ops collide. */
  tags: number;
  objects: number;
  /** Also ops the schema refuses (the merge engine rejects them; a server refuses the batch). */
  schemaInvalid?: boolean;
}

/**
 * Random ops of the default schema over a small world, so they collide: pending ops (R3), owners
 * (R5), duplicates and conflicts (D1), relations over deleted ends (L3).
 */
export function smallWorldOp(world: SmallWorld): fc.Arbitrary<Operation> {
  return fc
    .tuple(
      fc.nat(world.schemaInvalid ? 11 : 10),
      fc.constantFrom(...world.nodes),
      fc.integer({ min: 0, max: world.maxTick }),
      fc.constantFrom('a', 'b', null),
      fc.nat(world.tags - 1),
      fc.nat(world.objects - 1),
    )
    .map(([dice, node, tick, value, t, o]): Operation => {
      const tag = rid(1 + t);
      const object = rid(10 + o);
      const location = rid(20);
      switch (dice) {
        case 0:
          return createOp(tag, 'Tag', { name: value, color: value }, node, tick);
        case 1:
          return createOp(object, 'Object', { note: value }, node, tick);
        case 2:
          return createOp(location, 'Location', { name: value }, node, tick);
        case 3:
          return updateOp(tag, 'name', value, node, tick);
        case 4:
          return updateOp(location, 'name', value, node, tick, 'Location');
        case 5:
          return deleteOp(tick % 2 ? tag : object, node, tick);
        case 6:
          return relCreateOp('TagOnObject', object, tag, node, tick, { date_created: null });
        case 7:
          return relUpdateOp('TagOnObject', object, tag, 'date_created', '2024-01-01', node, tick);
        case 8:
          return relDeleteOp('TagOnObject', object, tag, node, tick);
        case 9:
          return updateOp(object, 'note', value, node, tick, 'Object');
        case 10:
          return updateOp(tag, 'color', value, node, tick, 'Tag');
        default:
          // A field Tag does not have, named by an Object's op.
          return updateOp(object, 'note', value, node, tick, 'Tag');
      }
    });
}
