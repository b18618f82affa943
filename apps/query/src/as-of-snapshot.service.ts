import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  type Clock,
  type FieldWrite,
  type RecordState,
  type RelationState,
  compactClocks,
  recordView,
  relationView,
} from '@sync/protocol';
import type { FastifyReply } from 'fastify';
import { AsOfRepository } from './as-of.repository';
import type { QueryConfig } from './query.config';
import { QUERY_CONFIG } from './query.tokens';
import { ReadYourWritesService } from './read-your-writes.service';
import {
  SNAPSHOT_BATCH,
  type SnapshotClocks,
  type SnapshotHeader,
  type SnapshotLine,
  type SnapshotRecordLine,
  type SnapshotRelationLine,
  type SnapshotView,
  type StoredClock,
} from './snapshot.repository';
import { NdjsonResponse } from './ndjson-response';

/**
 * GET /libraries/{id}/snapshot?asOf=X: the snapshot's lines for the state as of X, built from
 * the op log prefix by AsOfRepository (the live snapshot reads the projection rows instead).
 * Same lines and order as the live one; `offset` is X, `clock` the greatest hybrid up to X.
 */
@Injectable()
export class AsOfSnapshotService {
  private readonly logger = new Logger('AsOfSnapshotService');

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly asOfState: AsOfRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  async stream(
    libraryId: string,
    asOf: bigint,
    view: SnapshotView,
    clocks: SnapshotClocks,
    reply: FastifyReply,
  ): Promise<void> {
    const header: SnapshotHeader = {
      type: 'snapshot',
      libraryId,
      partition: await this.readYourWrites.partitionOf(libraryId),
      offset: asOf.toString(),
      clock: await this.asOfState.clock(libraryId, asOf),
      view,
    };
    const counts = { records: 0, relations: 0, pending: 0 };
    const body = NdjsonResponse.start(reply, { 'X-Snapshot-Offset': header.offset ?? '' });
    try {
      if (!(await body.write(`${JSON.stringify(header)}\n`))) return;
      for await (const batch of this.lines(libraryId, asOf, view === 'full', clocks)) {
        let text = '';
        for (const line of batch) {
          if (line.type === 'record') counts.records++;
          else if (line.type === 'relation') counts.relations++;
          else counts.pending++;
          text += `${JSON.stringify(line)}\n`;
        }
        if (!(await body.write(text))) return;
      }
      const end =
        view === 'full'
          ? { type: 'end', ...counts }
          : { type: 'end', records: counts.records, relations: counts.relations };
      await body.write(`${JSON.stringify(end)}\n`);
      await body.end();
    } catch (error) {
      this.logger.warn(
        `snapshot of ${libraryId} as of ${asOf} failed mid-stream: ${error instanceof Error ? error.message : String(error)}`,
      );
      body.abort();
    }
  }

  private async *lines(
    libraryId: string,
    asOf: bigint,
    full: boolean,
    clocks: SnapshotClocks,
  ): AsyncGenerator<SnapshotLine[]> {
    for await (const states of this.asOfState.recordStates(libraryId, asOf)) {
      yield states
        .filter((state) => full || !state.deleted)
        .map((state) => this.recordLine(state, full, clocks));
    }
    for await (const states of this.asOfState.relationStates(libraryId, asOf, {})) {
      yield states
        .filter(({ visible }) => full || visible)
        .map(({ state, visible }) => this.relationLine(state, visible, full));
    }
    if (!full) return;
    let after = -1n;
    for (;;) {
      const ops = await this.asOfState.pending(libraryId, asOf, after, SNAPSHOT_BATCH);
      if (ops.length === 0) return;
      yield ops.map(({ offset, op }) => ({
        type: 'pending',
        offset: offset.toString(),
        operation: op as unknown as Record<string, unknown>,
      }));
      after = ops[ops.length - 1].offset;
      if (ops.length < SNAPSHOT_BATCH) return;
    }
  }

  private recordLine(
    state: RecordState,
    full: boolean,
    clocks: SnapshotClocks,
  ): SnapshotRecordLine {
    const { id, model, data } = recordView(this.config.schema, state);
    const line: SnapshotRecordLine = { type: 'record', id, model, data };
    if (full) {
      line.deleted = state.deleted;
      line.owner = state.owner;
      line.clocks =
        (clocks === 'compact' ? compactClocks(state.fields) : null) ?? storedClocks(state.fields);
    }
    return line;
  }

  private relationLine(
    state: RelationState,
    visible: boolean,
    full: boolean,
  ): SnapshotRelationLine {
    const { relation, item, group, data } = relationView(this.config.schema, state);
    const line: SnapshotRelationLine = { type: 'relation', relation, item, group, data };
    if (full) {
      line.visible = visible;
      line.present = state.presence.exists;
      line.presenceClock = storedClock(state.presence.clock);
      line.clocks = storedClocks(state.fields);
    }
    return line;
  }
}

function storedClock(clock: Clock): StoredClock {
  return [clock.hybrid.toString(), clock.node];
}

function storedClocks(fields: Record<string, FieldWrite>): Record<string, StoredClock> {
  const clocks: Record<string, StoredClock> = {};
  for (const name of Object.keys(fields)) clocks[name] = storedClock(fields[name].clock);
  return clocks;
}
