/*
 * The parts of @sync/protocol the client uses, imported by module path rather than from the
 * package index: the index also exports the class-validator DTOs, and going through it would make
 * class-validator and class-transformer runtime dependencies of the published client.
 */
export {
  HybridLogicalClock,
  DEFAULT_MAX_DRIFT_MS,
  type WallClock,
} from '@sync/protocol/hlc/hybrid-logical-clock';
export {
  type Ntp64,
  formatHybrid,
  hybridFromMillis,
  hybridToMillis,
  parseHybrid,
} from '@sync/protocol/hlc/ntp64';
export { type Clock, compareClock, identityKey } from '@sync/protocol/hlc/clock-order';
export type { JsonObject, JsonValue } from '@sync/protocol/json';
export { normalizeUuid } from '@sync/protocol/uuid';
export {
  type Operation,
  type RecordCreate,
  type RecordDelete,
  type RecordOperation,
  type RecordUpdate,
  type RelationCreate,
  type RelationDelete,
  type RelationOperation,
  type RelationUpdate,
  isRecordOp,
  opIdentityKey,
} from '@sync/protocol/operation/operation.types';
export { contentHash } from '@sync/protocol/operation/canonical-json';
export {
  type ValidationIssue,
  validateBatch,
  validateOperation,
} from '@sync/protocol/operation/operation-validator';
export { Schema } from '@sync/protocol/schema/schema';
export { defaultSchema } from '@sync/protocol/schema/default-schema';
export { parseSchema } from '@sync/protocol/schema/schema-parser';
export type {
  AcceptedIdentity,
  FieldWrite,
  LibrarySlice,
  LoggedOperation,
  MergeResult,
  RecordState,
  RejectionReason,
  RelationState,
} from '@sync/protocol/merge/merge.types';
export {
  emptySlice,
  mergeBatch,
  relationKey,
  touchedKeys,
} from '@sync/protocol/merge/merge-engine';
export {
  type RecordView,
  type RelationView,
  isRecordVisible,
  isRelationVisible,
  recordView,
  relationView,
} from '@sync/protocol/merge/relation-visibility';
export { type MaterializedState, materializeSlice } from '@sync/protocol/merge/materialize';
export { type StateDigestResult, stateDigest } from '@sync/protocol/merge/state-digest';
export { supersededOffsets } from '@sync/protocol/merge/supersession';
