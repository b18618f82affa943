import type { Operation } from '../protocol';
import type { StoredSlice } from '../replica/slice-codec';

export const STORE_FORMAT_VERSION = 1;

/** One of the node's own ops; `ackOffset` null = still in the outbox (never acknowledged). */
export interface StoredLocalOp {
  op: Operation;
  /** lastOffset of the push that the ingest acknowledged (decimal string). */
  ackOffset: string | null;
}

/** Small and written after every local edit: who we are, the clock, our unconfirmed ops. */
export interface StoredJournal {
  version: typeof STORE_FORMAT_VERSION;
  nodeId: string;
  libraryId: string;
  /** Last value of the node's hybrid logical clock (decimal NTP64). */
  clock: string;
  /** Own ops not yet confirmed by the pulled feed, in the order they were made. */
  local: StoredLocalOp[];
}

/** The confirmed replica: the pulled feed merged, and the offset it was pulled through. */
export interface StoredReplica {
  version: typeof STORE_FORMAT_VERSION;
  /** Feed offset the replica is complete through (exclusive lower bound of the next pull). */
  cursor: string | null;
  slice: StoredSlice;
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
  load(): Promise<StoredNodeState>;
  saveJournal(journal: StoredJournal): Promise<void>;
  saveReplica(replica: StoredReplica): Promise<void>;
}
