import {
  PartitionOffsetsRepository,
  ProjectionRepository,
  appendMergeResult,
  emptyChanges,
  inTransaction,
} from '@sync/persistence';
import {
  type LibrarySlice,
  type LoggedOperation,
  type MergeResult,
  type RejectionReason,
  type Schema,
  emptySlice,
  mergeBatch,
  touchedKeys,
} from '@sync/protocol';
import type { Pool, PoolClient } from 'pg';
import { groupByLibrary, planChunks } from './batch-plan';
import type { DeadLetter } from './dead-letter.publisher';
import type { DecodedMessage } from './message-decoder';

type OpMessage = Extract<DecodedMessage, { kind: 'op' }>;

export interface PartitionBatch {
  topic: string;
  partition: number;
  /** Decoded messages in offset order. */
  messages: readonly DecodedMessage[];
  /** Last offset the fetch covered (may be past the last message: transaction markers). */
  lastOffset: bigint;
}

export interface BatchHooks {
  /** Keeps the consumer's group membership alive; called between steps. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops: the batch is then abandoned (rolled back) between steps. */
  isRunning(): boolean;
  /** Makes dead letters durable; called inside the transaction, before the commit. */
  deadLetter(topic: string, partition: number, letters: readonly DeadLetter[]): Promise<void>;
}

export interface BatchOutcome {
  /** The partition's applied position after the batch (the row's next_offset). */
  nextOffset: bigint;
  /** Messages below the stored position, skipped because they were applied already. */
  skipped: number;
  /** Ops of this batch that entered the feed. */
  accepted: number;
  duplicates: number;
  /** Rejections by reason, including ops of earlier batches revoked by this one. */
  rejections: Partial<Record<RejectionReason, number>>;
  /** Ops of earlier batches (kept pending, hence in the feed) rejected by this batch. */
  revoked: number;
  deadLetters: Partial<Record<DeadLetter['reason'], number>>;
  /** Net change of pending ops (added minus resolved). */
  pendingDelta: number;
}

/** Thrown out of the transaction to roll a batch back when the consumer stops mid-batch. */
export class BatchAbandoned extends Error {
  constructor() {
    super('batch abandoned: consumer stopping');
    this.name = 'BatchAbandoned';
  }
}

export type MergeFailureLogger = (libraryId: string, offset: bigint, error: unknown) => void;

/**
 * Applies one partition batch in one Postgres transaction: lock the partition's position, skip
 * what is below it, dead-letter what is not an op, merge the ops library by library over only
 * the rows they touch, write the changes in bulk, and advance the position (with a notification
 * that fires on commit). Either all of it commits or none of it does.
 */
export class ProjectionService {
  private readonly offsets = new PartitionOffsetsRepository();
  private readonly projection = new ProjectionRepository();

  constructor(
    private readonly pool: Pool,
    private readonly schema: Schema,
    private readonly chunkOps: number,
    private readonly onMergeFailure: MergeFailureLogger = () => undefined,
  ) {}

  /** Stored position of a partition (no lock), null when it was never applied. */
  storedOffset(topic: string, partition: number): Promise<bigint | null> {
    return this.offsets.read(this.pool, topic, partition);
  }

  /** See PartitionOffsetsRepository.passEmptyRange. */
  passEmptyRange(topic: string, partition: number, first: bigint, last: bigint): Promise<boolean> {
    return this.offsets.passEmptyRange(this.pool, topic, partition, first, last);
  }

  apply(batch: PartitionBatch, hooks: BatchHooks): Promise<BatchOutcome> {
    const { topic, partition } = batch;
    // The partition's lock travels with BEGIN and its advance with COMMIT (one round trip each).
    return inTransaction(
      this.pool,
      (client, locked) => this.applyLocked(client, batch, this.offsets.lockedOffset(locked), hooks),
      {
        opening: this.offsets.lockStatements(topic, partition),
        closing: ({ nextOffset }, locked) =>
          nextOffset === this.offsets.lockedOffset(locked)
            ? undefined
            : this.offsets.advanceStatement(topic, partition, nextOffset),
      },
    );
  }

  /** The batch's work inside its transaction, its partition locked at `stored`. */
  private async applyLocked(
    client: PoolClient,
    batch: PartitionBatch,
    stored: bigint,
    hooks: BatchHooks,
  ): Promise<BatchOutcome> {
    const outcome: BatchOutcome = {
      nextOffset: stored,
      skipped: 0,
      accepted: 0,
      duplicates: 0,
      rejections: {},
      revoked: 0,
      deadLetters: {},
      pendingDelta: 0,
    };
    const ops: OpMessage[] = [];
    const letters: DeadLetter[] = [];
    for (const message of batch.messages) {
      // Fencing: offsets may have gaps (transaction markers), so compare, never count.
      if (message.offset < stored) outcome.skipped++;
      else if (message.kind === 'op') ops.push(message);
      else letters.push(message);
    }
    const next = batch.lastOffset + 1n > stored ? batch.lastOffset + 1n : stored;
    if (next === stored) return outcome;

    const chunks = planChunks(groupByLibrary(ops), this.chunkOps);
    for (const chunk of chunks) {
      const touched = new Map(chunk.map((group) => [group.libraryId, touchedKeys(group.ops)]));
      const slices = await this.projection.loadSlices(client, touched);
      const changes = emptyChanges();
      for (const group of chunk) {
        const slice = slices.get(group.libraryId) ?? emptySlice();
        const { merged, result } = this.mergeIsolating(group.libraryId, slice, group.ops);
        if (merged.length < group.ops.length) {
          const kept = new Set(merged);
          const byOffset = new Map(ops.map((message) => [message.offset, message]));
          for (const failed of group.ops) {
            if (kept.has(failed)) continue;
            const message = byOffset.get(failed.offset) as OpMessage;
            letters.push({
              kind: 'dead',
              offset: failed.offset,
              reason: 'UNPROCESSABLE',
              detail: 'the merge engine failed on this op; see the projector log',
              key: message.key,
              value: message.value,
            });
          }
        }
        appendMergeResult(
          changes,
          this.schema,
          group.libraryId,
          batch.partition,
          merged,
          result,
          slice,
        );
        outcome.accepted += result.accepted.length;
        outcome.revoked += result.revoked.length;
        outcome.duplicates += result.duplicates.length;
        outcome.pendingDelta += result.pendingAdded.length - result.pendingResolved.length;
        for (const rejection of result.rejections) {
          increment(outcome.rejections, rejection.reason);
        }
      }
      await this.projection.write(client, changes);
      if (chunks.length > 1) await hooks.heartbeat();
      if (!hooks.isRunning()) throw new BatchAbandoned();
    }

    if (letters.length > 0) {
      letters.sort((a, b) => (a.offset < b.offset ? -1 : 1));
      await hooks.deadLetter(batch.topic, batch.partition, letters);
      for (const letter of letters) increment(outcome.deadLetters, letter.reason);
    }
    outcome.nextOffset = next;
    return outcome;
  }

  /**
   * mergeBatch, and should it throw (a bug, never expected), the same merge without the ops it
   * throws on, found by replaying one op at a time: one bad op must not block its partition.
   */
  private mergeIsolating(
    libraryId: string,
    slice: LibrarySlice,
    ops: LoggedOperation[],
  ): { merged: LoggedOperation[]; result: MergeResult } {
    try {
      return { merged: ops, result: mergeBatch(this.schema, slice, ops) };
    } catch {
      const merged: LoggedOperation[] = [];
      let state = slice;
      for (const logged of ops) {
        try {
          state = mergeBatch(this.schema, state, [logged]).slice;
          merged.push(logged);
        } catch (error) {
          this.onMergeFailure(libraryId, logged.offset, error);
        }
      }
      return { merged, result: mergeBatch(this.schema, slice, merged) };
    }
  }
}

function increment<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
