import type { MaterializedState, Operation } from '../protocol';
import type { SnapshotContents } from '../replica/snapshot-slice';

/** 202 answer of POST /libraries/{id}/operations: every op is durably in the log. */
export interface PushResult {
  accepted: number;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

export interface FeedEntry {
  offset: bigint;
  operation: Operation;
}

/** One page of GET /libraries/{id}/operations. */
export interface FeedPage {
  items: FeedEntry[];
  /** null when the page reached the end of the applied feed. */
  nextCursor: string | null;
}

export interface PullRequest {
  /** Exclusive lower bound: the offset of the last op already pulled; null = from the start. */
  after: bigint | null;
  limit: number;
  /** Read-your-writes: answer only once the log is applied through this offset. */
  minOffset?: bigint;
  /** How long the server may wait for minOffset (contract default 5000, max 30000). */
  waitMs?: number;
  /**
   * The pulling node: the server records that it holds the feed through `after`, so op-log
   * compaction keeps what it still needs (docs/RETENTION.md).
   */
  node?: string;
}

/** GET /libraries/{id}/digest?asOf=: the state digest of CONTRACT.md section 8. */
export interface ServerDigest {
  /** `sha256:` and 64 lowercase hex digits. */
  digest: string;
  appliedOffset: string | null;
  records: number;
  relations: number;
}

export interface SnapshotOptions {
  /** Called as lines arrive, with how many record, relation and pending lines were read. */
  onProgress?: (lines: number) => void;
}

/** How a SyncNode reaches the service; SyncHttpTransport is the real one. */
export interface SyncTransport {
  /** Publishes a batch all or nothing; re-sending the same ops is safe (duplicates, D1). */
  push(libraryId: string, ops: readonly Operation[]): Promise<PushResult>;
  /**
   * One page of the library's op feed, in log order. Below the compaction horizon it throws
   * SyncApiError 410 SNAPSHOT_REQUIRED (SyncNode then re-bootstraps from snapshot()).
   */
  pull(libraryId: string, request: PullRequest): Promise<FeedPage>;
  /** GET /libraries/{id}/snapshot (view=full), decoded; optional (see SyncNode.bootstrapFromSnapshot). */
  snapshot?(libraryId: string, options?: SnapshotOptions): Promise<SnapshotContents>;
  /** The server's state digest as of an offset; optional (sync() then reports verified: null). */
  digest?(libraryId: string, asOf: bigint): Promise<ServerDigest>;
  /**
   * The server's visible state as of an offset; optional, used only to explain a digest
   * mismatch with per-model counts.
   */
  stateAsOf?(libraryId: string, asOf: bigint): Promise<MaterializedState>;
}
