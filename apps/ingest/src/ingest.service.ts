import { Inject, Injectable } from '@nestjs/common';
import { PublishError, type PublishResult } from '@sync/kafka';
import { SyncError } from '@sync/platform';
import {
  HybridLogicalClock,
  type Ntp64,
  checkJsonLimits,
  formatHybrid,
  hybridFromMillis,
  normalizeUuid,
  validateBatch,
} from '@sync/protocol';
import { AdmissionControl } from './admission-control.service';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { INGEST_CONFIG } from './ingest.tokens';
import { OperationPublisher } from './operation-publisher.service';

export interface BatchAccepted {
  accepted: number;
  partition: number;
  firstOffset: string;
  lastOffset: string;
}

/** The publishing side of a batch, as the service needs it (the Kafka producer in production). */
export interface BatchPublisher {
  publish: OperationPublisher['publish'];
}

/**
 * Checks a batch completely (shape, schema, clock drift) before anything is sent, then
 * publishes it all or nothing. The service clock takes in the batch's timestamps only once
 * the batch is durably in Kafka.
 */
@Injectable()
export class IngestService {
  private readonly clock: HybridLogicalClock;

  constructor(
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(OperationPublisher) private readonly publisher: BatchPublisher,
    private readonly metrics: IngestMetrics,
    private readonly admission: AdmissionControl,
  ) {
    this.clock = new HybridLogicalClock({ maxDriftMs: config.maxDriftMs });
  }

  /**
   * The service's HLC as of now: the greater of the last value it issued or merged and the
   * wall clock. Reading it does not move it.
   */
  currentClock(): string {
    const wall = hybridFromMillis(Date.now());
    const last = this.clock.current();
    return formatHybrid(last > wall ? last : wall);
  }

  /**
   * `emptyBody`: the request had no body at all (body-parser reads that as {}). `bodyBytes`: its
   * size as sent (Content-Length); measured from the parsed body when the client did not say.
   */
  async ingest(
    libraryId: string,
    body: unknown,
    emptyBody = false,
    bodyBytes?: number,
  ): Promise<BatchAccepted> {
    try {
      return await this.accept(libraryId, body, emptyBody, bodyBytes);
    } catch (error) {
      if (error instanceof SyncError) {
        this.metrics.batchRejected(error.code, Array.isArray(body) ? body.length : 0);
      }
      throw error;
    }
  }

  private async accept(
    rawLibraryId: string,
    body: unknown,
    emptyBody: boolean,
    bodyBytes: number | undefined,
  ): Promise<BatchAccepted> {
    const libraryId = normalizeUuid(rawLibraryId);
    if (libraryId === null) {
      throw new SyncError('INVALID_LIBRARY_ID', `library id must be a UUID, got "${rawLibraryId}"`);
    }
    if (body === undefined || emptyBody) {
      throw new SyncError(
        'INVALID_JSON',
        'request body is empty; expected a JSON array of operations',
      );
    }
    if (!Array.isArray(body)) {
      throw new SyncError('NOT_AN_ARRAY', 'request body must be a JSON array of operations');
    }
    if (body.length === 0) {
      throw new SyncError('VALIDATION_FAILED', 'the batch must contain at least one operation', []);
    }
    if (body.length > this.config.maxBatchOps) {
      throw new SyncError(
        'PAYLOAD_TOO_LARGE',
        `the batch has ${body.length} operations; at most ${this.config.maxBatchOps} are accepted per request`,
      );
    }
    // Refused before any costly check: under overload the excess must cost next to nothing.
    const work = {
      ops: body.length,
      bytes: bodyBytes ?? Buffer.byteLength(JSON.stringify(body)),
    };
    return this.admission.run(work, () => this.checkAndPublish(libraryId, body));
  }

  private async checkAndPublish(libraryId: string, body: unknown[]): Promise<BatchAccepted> {
    // Before anything walks the ops recursively: depth and string length are bounded here.
    const oversized = checkJsonLimits(body, this.config.jsonLimits);
    if (oversized.length > 0) {
      const invalid = new Set(oversized.map((e) => e.index)).size;
      throw new SyncError(
        'VALIDATION_FAILED',
        `${invalid} of ${body.length} operations exceed the JSON limits; nothing was accepted`,
        oversized,
      );
    }

    const { ops, errors } = validateBatch(body, this.config.schema);
    if (errors.length > 0) {
      const invalid = new Set(errors.map((e) => e.index)).size;
      throw new SyncError(
        'VALIDATION_FAILED',
        `${invalid} of ${body.length} operations are invalid; nothing was accepted`,
        errors.map(({ index, path, message }) => ({ index, path, message })),
      );
    }

    const hybrids: Ntp64[] = ops.map((op) => BigInt(op.timestamp.hybrid));
    const drifted = this.drifted(hybrids);
    if (drifted.length > 0) {
      throw new SyncError(
        'TIMESTAMP_DRIFT',
        `${drifted.length} of ${ops.length} operations have a timestamp more than ${this.config.maxDriftMs} ms ahead of the server clock; nothing was accepted`,
        drifted,
      );
    }

    const result = await this.publish(libraryId, ops);
    // Receive rule, once the batch is in: drift only shrinks as the wall clock moves on.
    this.clock.updateBatch(hybrids);
    this.metrics.batchAccepted(ops.length);
    return {
      accepted: result.count,
      partition: result.partition,
      firstOffset: result.firstOffset,
      lastOffset: result.lastOffset,
    };
  }

  /** Every op too far ahead, all judged at one reading of the wall clock. */
  private drifted(hybrids: readonly Ntp64[]): { index: number; path: string; message: string }[] {
    return this.clock.driftsOf(hybrids).map(({ index, driftMs }) => ({
      index,
      path: 'timestamp.hybrid',
      message: `physical time is ${driftMs} ms ahead of the server clock (at most ${this.config.maxDriftMs} ms allowed)`,
    }));
  }

  private async publish(
    libraryId: string,
    ops: Parameters<BatchPublisher['publish']>[1],
  ): Promise<PublishResult> {
    const stop = this.metrics.publishTimer();
    try {
      const result = await this.publisher.publish(libraryId, ops);
      stop('ok');
      return result;
    } catch (error) {
      // Anything else is a bug, answered as 500 by the error filter.
      if (!(error instanceof PublishError)) throw error;
      stop(error.reason);
      if (error.reason === 'too-large') throw new SyncError('PAYLOAD_TOO_LARGE', error.message);
      if (error.reason === 'unknown') {
        // The contract has no "maybe": 503 is the answer that asks for a retry, and the message
        // says the truth. Resending the same ops is safe (ops are idempotent by identity).
        throw new SyncError(
          'BROKER_UNAVAILABLE',
          `the outcome of the batch is unknown: it may have been stored, whole (never in part); resending the same ops is safe: ${error.message}`,
          undefined,
          { 'Retry-After': '1' },
        );
      }
      throw new SyncError(
        'BROKER_UNAVAILABLE',
        `Kafka did not take the batch, so none of it was accepted: ${error.message}`,
        undefined,
        { 'Retry-After': '1' },
      );
    }
  }
}
