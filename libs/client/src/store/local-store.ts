import type { Operation } from '../protocol';
import {
  type StoredSlice,
  type StoredSliceChange,
  type StoredSliceChangeRow,
  type StoredSliceRow,
  applySliceChanges,
} from '../replica/slice-codec';

/**
 * What this client writes. 2 added wireRecord rows to the replica (replica-lines), 3 its
 * compactTables and compactRecord rows (a slice's compactTables and compact records).
 */
export const STORE_FORMAT_VERSION = 3;

/** Versions this client reads: 1 is 2 without wireRecord rows, 2 is 3 without compact rows. */
export const READABLE_STORE_FORMATS = [1, 2, 3] as const;
export type StoreFormatVersion = (typeof READABLE_STORE_FORMATS)[number];

/** One of the node's own ops; `ackOffset` null = still in the outbox (never acknowledged). */
export interface StoredLocalOp {
  op: Operation;
  /** lastOffset of the push that the ingest acknowledged (decimal string). */
  ackOffset: string | null;
}

/** Small and written after every local edit: who we are, the clock, our unconfirmed ops. */
export interface StoredJournal {
  version: StoreFormatVersion;
  nodeId: string;
  libraryId: string;
  /** Last value of the node's hybrid logical clock (decimal NTP64). */
  clock: string;
  /** Own ops not yet confirmed by the pulled feed, in the order they were made. */
  local: StoredLocalOp[];
}

/** The confirmed replica: the pulled feed merged, and the offset it was pulled through. */
export interface StoredReplica {
  version: StoreFormatVersion;
  /** Feed offset the replica is complete through (exclusive lower bound of the next pull). */
  cursor: string | null;
  slice: StoredSlice;
}

/** A stored replica without its rows. */
export type StoredReplicaHeader = Omit<StoredReplica, 'slice'>;

/** Rows of the confirmed replica written since the last save, and the cursor now. */
export interface StoredReplicaChange {
  version: StoreFormatVersion;
  cursor: string | null;
  changes: StoredSliceChange;
}

export interface StoredNodeState {
  journal?: StoredJournal;
  replica?: StoredReplica;
}

/**
 * Where a SyncNode keeps its state between runs, one store per (node, library). Values are plain
 * JSON. Each save replaces the previous value of its part and must be atomic (all or nothing);
 * the two parts are saved independently, replica first, and either order of crash is safe.
 */
export interface LocalStore {
  /** The state last saved: the last saveReplica with every appendReplica after it applied. */
  load(): Promise<StoredNodeState>;
  saveJournal(journal: StoredJournal): Promise<void>;
  /** Replaces the whole replica (and drops what was appended to the previous one). */
  saveReplica(replica: StoredReplica): Promise<void>;
  /**
   * Optional: saveReplica with the rows (in storedSliceRows order) produced as the store
   * consumes them, once each, so the replica is never held encoded whole (large replicas).
   */
  saveReplicaRows?(header: StoredReplicaHeader, rows: Iterable<StoredSliceRow>): Promise<void>;
  /**
   * Optional: records rows changed since the last save without rewriting the replica (a
   * journal, compacted by the next saveReplica). Atomic per call, like the saves; a call that
   * fails may be lost, after which the node saves the whole replica again.
   */
  appendReplica?(change: StoredReplicaChange): Promise<void>;
  /**
   * Optional, beside appendReplica: the same append with the rows (in storedSliceChangeRows
   * order) produced as the store consumes them, once each, so a checkpoint's rows are never
   * held encoded at once (a long pull's largest garbage otherwise).
   */
  appendReplicaRows?(
    header: StoredReplicaHeader,
    rows: Iterable<StoredSliceChangeRow>,
  ): Promise<void>;
}

/** A saved replica with the changes appended after it, as LocalStore.load answers it. */
export function replayReplica(
  base: StoredReplica,
  changes: readonly StoredReplicaChange[],
): StoredReplica {
  if (changes.length === 0) return base;
  return {
    version: base.version,
    cursor: changes[changes.length - 1].cursor,
    slice: applySliceChanges(
      base.slice,
      changes.map((c) => c.changes),
    ),
  };
}
