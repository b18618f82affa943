import { type Clock, compareClock } from '../hlc/clock-order';
import { type Operation, isRecordOp, opClock } from '../operation/operation.types';
import { relationKey } from './merge-engine';
import type { FieldWrite, LibrarySlice, LoggedOperation } from './merge.types';

/*
 * Which feed entries op-log compaction may drop: ops whose effect the library's current state
 * already holds through a greater op that stays in the feed. Replaying what is left gives the
 * same visible state as replaying everything (see supersession.spec.ts), because every rule
 * keeps the op that decides the outcome:
 *
 * Records (only records that have an accepted CREATE; ops still pending for a missing CREATE
 * are never superseded):
 * - a record's CREATEs and DELETEs are always kept: they carry its existence, model and owner
 *   (R1, R4, R5), and there are rarely more than one of each;
 * - an UPDATE of a deleted record is superseded (R1: nothing brings it back, and the fields of
 *   a deleted record are never shown);
 * - an UPDATE of field f is superseded when f's current write is greater (R2).
 *
 * Relations:
 * - an UPDATE of field f is superseded when f's current write is greater (L2);
 * - a DELETE is superseded when the current presence (greatest CREATE/DELETE) is greater (L1);
 * - a CREATE is superseded when the current presence is greater and so is the current write of
 *   every field in its data.
 *
 * "Current" writes never lose to an op that has been seen, so an op superseded once stays
 * superseded as the library grows, and the op that supersedes it is never dropped itself.
 * The Postgres implementation (libs/persistence/src/retention) applies the same rules in SQL.
 */

/** A write to `name` in `fields` greater than `clock` exists. */
function overwritten(fields: Record<string, FieldWrite>, name: string, clock: Clock): boolean {
  const current = Object.hasOwn(fields, name) ? fields[name] : undefined;
  return current !== undefined && compareClock(current.clock, clock) > 0;
}

/** Whether `op` (accepted, in the feed) is superseded in the library state `state`. */
export function isSuperseded(op: Operation, state: LibrarySlice): boolean {
  const clock = opClock(op);
  if (isRecordOp(op)) {
    const record = state.records.get(op.recordId);
    if (record === undefined || op.type !== 'UPDATE') return false;
    return record.deleted || overwritten(record.fields, op.field, clock);
  }
  const relation = state.relations.get(relationKey(op.relation, op.relationItem, op.relationGroup));
  if (relation === undefined) return false;
  if (op.type === 'UPDATE') return overwritten(relation.fields, op.field, clock);
  if (compareClock(relation.presence.clock, clock) <= 0) return false;
  if (op.type === 'DELETE') return true;
  return Object.keys(op.data ?? {}).every((name) => overwritten(relation.fields, name, clock));
}

/**
 * Offsets of the feed entries below `horizon` (exclusive) that compaction may drop, given the
 * library's state after every op of the feed (and any later ones) was merged.
 */
export function supersededOffsets(
  feed: readonly LoggedOperation[],
  state: LibrarySlice,
  horizon: bigint,
): bigint[] {
  return feed
    .filter(({ offset, op }) => offset < horizon && isSuperseded(op, state))
    .map(({ offset }) => offset);
}
