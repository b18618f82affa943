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

export interface MaterializedState {
  /** Visible records, ordered by id. */
  records: RecordView[];
  /** Visible relations, ordered by relation, item, group. */
  relations: RelationView[];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Visible state of a (complete) slice. */
export function materializeSlice(schema: Schema, slice: LibrarySlice): MaterializedState {
  const records = [...slice.records.values()]
    .filter(isRecordVisible)
    .sort((a, b) => byText(a.recordId, b.recordId))
    .map((r) => recordView(schema, r));
  const relations = [...slice.relations.values()]
    .filter((r) =>
      isRelationVisible(schema, r, slice.records.get(r.item), slice.records.get(r.group)),
    )
    .sort(
      (a, b) =>
        byText(a.relation, b.relation) || byText(a.item, b.item) || byText(a.group, b.group),
    )
    .map((r) => relationView(schema, r));
  return { records, relations };
}

/** Visible state after merging `ops` (in log order) into an empty library. */
export function materialize(schema: Schema, ops: readonly LoggedOperation[]): MaterializedState {
  return materializeSlice(schema, mergeBatch(schema, emptySlice(), ops).slice);
}
