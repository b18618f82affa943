import { Schema } from '../schema/schema';
import { emptySlice, mergeBatch } from './merge-engine';
import { LibrarySlice, LoggedOperation } from './merge.types';
import {
  RecordView,
  RelationView,
  isRecordVisible,
  isRelationVisible,
  recordView,
  relationView,
} from './relation-visibility';
import {
  StateDigest,
  type StateDigestResult,
  compareCodeUnits,
  compareRelationKeys,
} from './state-digest';

export interface MaterializedState {
  /** Visible records, ordered by id. */
  records: RecordView[];
  /** Visible relations, ordered by relation, item, group. */
  relations: RelationView[];
}

/**
 * The visible records of a slice by id, one view at a time: only the ids are sorted, and each
 * row is read (a packed store rebuilds it) when its turn comes.
 */
function* visibleRecords(schema: Schema, slice: LibrarySlice): Generator<RecordView> {
  for (const id of [...slice.records.keys()].sort(compareCodeUnits)) {
    const row = slice.records.get(id);
    if (row !== undefined && isRecordVisible(row)) yield recordView(schema, row);
  }
}

/** The visible relations of a slice by (relation, item, group), one view at a time. */
function* visibleRelations(schema: Schema, slice: LibrarySlice): Generator<RelationView> {
  const visible = [...slice.relations.values()]
    .filter((r) =>
      isRelationVisible(schema, r, slice.records.get(r.item), slice.records.get(r.group)),
    )
    .sort(compareRelationKeys);
  for (const r of visible) yield relationView(schema, r);
}

/** Visible state of a (complete) slice. */
export function materializeSlice(schema: Schema, slice: LibrarySlice): MaterializedState {
  return {
    records: [...visibleRecords(schema, slice)],
    relations: [...visibleRelations(schema, slice)],
  };
}

/**
 * stateDigest(materializeSlice(schema, slice)) without holding the materialized state: views are
 * hashed as they are built, so a large replica's digest needs no second copy of it in memory.
 */
export function sliceDigest(schema: Schema, slice: LibrarySlice): StateDigestResult {
  const digest = new StateDigest();
  for (const record of visibleRecords(schema, slice)) digest.addRecord(record);
  for (const relation of visibleRelations(schema, slice)) digest.addRelation(relation);
  return digest.finish();
}

/** Visible state after merging `ops` (in log order) into an empty library. */
export function materialize(schema: Schema, ops: readonly LoggedOperation[]): MaterializedState {
  return materializeSlice(schema, mergeBatch(schema, emptySlice(), ops).slice);
}
