import { Clock } from '../hlc/clock-order';
import { Ntp64 } from '../hlc/ntp64';
import { JsonValue } from '../json';
import { Operation } from '../operation/operation.types';

export type { Clock } from '../hlc/clock-order';

/** One field's last-writer-wins register. */
export interface FieldWrite {
  value: JsonValue;
  clock: Clock;
}

/** A record that has an accepted CREATE (records without one exist only as pending ops). */
export interface RecordState {
  recordId: string;
  /** Model of the first accepted CREATE. */
  model: string;
  /** Node of the first accepted CREATE; set for owned models only, null for shared ones. */
  owner: string | null;
  /** DELETE is permanent (R1). */
  deleted: boolean;
  /** Written fields only; unwritten fields read as null. */
  fields: Record<string, FieldWrite>;
}

export interface RelationState {
  relation: string;
  item: string;
  group: string;
  /** Greatest CREATE/DELETE by op order; ZERO_CLOCK and exists=false when only UPDATEs arrived. */
  presence: { exists: boolean; clock: Clock };
  fields: Record<string, FieldWrite>;
}

export interface RelationKey {
  relation: string;
  item: string;
  group: string;
}

/** An op with its position in the library's log (its Kafka offset). */
export interface LoggedOperation {
  offset: bigint;
  op: Operation;
}

export interface AcceptedIdentity {
  offset: bigint;
  contentHash: string;
}

/** An op a batch accepted, with the content hash the merge computed for it (D1). */
export interface AcceptedOperation extends LoggedOperation {
  contentHash: string;
}

/** The part of a library's state a batch touches (see touchedKeys). */
export interface LibrarySlice {
  /** By recordId; absent = no CREATE accepted yet. */
  records: Map<string, RecordState>;
  /** Record ops kept before their CREATE (R3), by recordId, in log order. */
  pending: Map<string, LoggedOperation[]>;
  /** By relationKey(relation, item, group). */
  relations: Map<string, RelationState>;
  /** By identityKey(node, hybrid): accepted ops already in the log (pending ones included). */
  accepted: Map<string, AcceptedIdentity>;
}

export type RejectionReason =
  | 'MODEL_MISMATCH'
  | 'UNKNOWN_FIELD'
  | 'INVALID_VALUE'
  | 'NOT_OWNER'
  | 'DUPLICATE_CONFLICT'
  | 'UNKNOWN_MODEL';

export const REJECTION_REASONS: readonly RejectionReason[] = [
  'MODEL_MISMATCH',
  'UNKNOWN_FIELD',
  'INVALID_VALUE',
  'NOT_OWNER',
  'DUPLICATE_CONFLICT',
  'UNKNOWN_MODEL',
];

export interface Rejection {
  offset: bigint;
  op: Operation;
  reason: RejectionReason;
  message: string;
}

export interface TouchedKeys {
  recordIds: string[];
  relationKeys: RelationKey[];
  identities: { node: string; hybrid: Ntp64 }[];
}

export interface MergeResult {
  /** New state of every row in the input slice plus the rows the batch created. */
  slice: LibrarySlice;
  /** Final state of records whose state changed in this batch. */
  changedRecords: RecordState[];
  /** Final state of relations whose state changed in this batch. */
  changedRelations: RelationState[];
  /** Ops of this batch still pending at its end. */
  pendingAdded: LoggedOperation[];
  /** Offsets of pending ops from earlier batches that left pending (applied or rejected). */
  pendingResolved: bigint[];
  /**
   * New, non-duplicate ops to append to the op log (feed), in log order; pending ones included.
   * An op of this batch that is kept pending and rejected within the same batch is not listed.
   */
  accepted: AcceptedOperation[];
  /** Offsets of ops accepted by an earlier batch (while pending) and now rejected: remove from the feed. */
  revoked: bigint[];
  /** Every rejection of this batch, in order; revoked ops appear here with their original offset. */
  rejections: Rejection[];
  /** Offsets of exact duplicates (D1): no effect, not an error. */
  duplicates: bigint[];
}
