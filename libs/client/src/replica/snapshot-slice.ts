import {
  type AcceptedIdentity,
  type Clock,
  type FieldWrite,
  type JsonValue,
  type LibrarySlice,
  type LoggedOperation,
  type Operation,
  type RecordState,
  type RelationState,
  type SnapshotClocks,
  compactClocks,
  contentHash,
  emptySlice,
  isRecordOp,
  opIdentityKey,
  relationKey,
} from '../protocol';
import { PackedRecords } from './packed-records';
import { ClockInterner, SnapshotFormatError, type WireClock, checkWireRecord } from './wire-record';

export { SnapshotFormatError } from './wire-record';

/*
 * GET /libraries/{id}/snapshot (view=full) turned back into the merge engine's LibrarySlice, so
 * a node can start from it and merge the feed after the snapshot's offset, instead of replaying
 * the whole feed. The lines carry what merging needs: deleted records with owner and model (R1,
 * R4, R5), field clocks (R2, L2), relations that are not visible with their presence clock (L1),
 * and ops kept pending for a missing CREATE (R3).
 */

const wireClock = (clock: Clock): WireClock => [clock.hybrid.toString(), clock.node];

function wireFields(fields: Record<string, FieldWrite>): {
  data: Record<string, JsonValue>;
  clocks: Record<string, WireClock>;
} {
  const data: Record<string, JsonValue> = {};
  const clocks: Record<string, WireClock> = {};
  for (const [name, write] of Object.entries(fields)) {
    data[name] = write.value;
    clocks[name] = wireClock(write.clock);
  }
  return { data, clocks };
}

/**
 * A record's line in a full snapshot (the inverse of what the builder reads): clocks by field in
 * the row's order, or (`compact`, as `clocks=compact` asks) compactClocks' text unless that
 * cannot hold them.
 */
export function snapshotRecordLine(
  r: RecordState,
  clocks: SnapshotClocks = 'fields',
): Record<string, unknown> {
  const line = {
    type: 'record',
    id: r.recordId,
    model: r.model,
    owner: r.owner,
    deleted: r.deleted,
    ...wireFields(r.fields),
  };
  const compact = clocks === 'compact' ? compactClocks(r.fields) : null;
  return compact === null ? line : { ...line, clocks: compact };
}

/** A relation's line in a full snapshot (the inverse of what the builder reads). */
export function snapshotRelationLine(r: RelationState): Record<string, unknown> {
  return {
    type: 'relation',
    relation: r.relation,
    item: r.item,
    group: r.group,
    present: r.presence.exists,
    presenceClock: wireClock(r.presence.clock),
    ...wireFields(r.fields),
  };
}

export interface SnapshotHeaderLine {
  type: 'snapshot';
  libraryId: string;
  partition: number;
  offset: string | null;
  clock: string | null;
  view: 'full' | 'visible';
}

export interface SnapshotEnd {
  type: 'end';
  records: number;
  relations: number;
  pending?: number;
}

export interface SnapshotContents {
  header: SnapshotHeaderLine;
  slice: LibrarySlice;
  /** Feed offset the slice is complete through (pull with after = this); null: from the start. */
  offset: bigint | null;
  /** Greatest hybrid of the library's ops, for the HLC receive rule; null when none. */
  clock: bigint | null;
  /** Record, relation and pending lines the snapshot held. */
  lines: number;
}

/**
 * Incremental decoder: feed the lines in order, then call finish(). Record lines are checked and
 * kept as text (see PackedRecords.setSnapshotRecord).
 */
export class SnapshotSliceBuilder {
  private header?: SnapshotHeaderLine;
  private ended?: SnapshotEnd;
  private readonly records = new PackedRecords();
  private readonly slice: LibrarySlice = { ...emptySlice(), records: this.records };
  private readonly pending: LoggedOperation[] = [];
  private counts = { records: 0, relations: 0, pending: 0 };
  private readonly clocks = new ClockInterner();

  /** Lines of records, relations and pending ops taken so far. */
  get lines(): number {
    return this.counts.records + this.counts.relations + this.counts.pending;
  }

  addLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new SnapshotFormatError('a line is not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SnapshotFormatError('a line is not an object');
    }
    const entry = value as Record<string, unknown> & { type?: unknown };
    if (this.ended) throw new SnapshotFormatError('line after the end line');
    if (entry.type === 'snapshot') {
      if (this.header) throw new SnapshotFormatError('second header line');
      const header = entry as unknown as SnapshotHeaderLine;
      if (header.view !== 'full') {
        throw new SnapshotFormatError('a node needs view=full to keep merging');
      }
      this.header = header;
      return;
    }
    if (!this.header) throw new SnapshotFormatError('first line is not the header');
    switch (entry.type) {
      case 'record': {
        this.records.setSnapshotRecord(checkWireRecord(entry), line);
        this.counts.records++;
        return;
      }
      case 'relation': {
        const r = entry as {
          relation: string;
          item: string;
          group: string;
          present: boolean;
          presenceClock: WireClock;
          data: Record<string, unknown>;
          clocks: Record<string, WireClock>;
        };
        const state: RelationState = {
          relation: r.relation,
          item: r.item,
          group: r.group,
          presence: { exists: r.present === true, clock: this.clocks.clock(r.presenceClock) },
          fields: this.clocks.fields(r.data, r.clocks),
        };
        this.slice.relations.set(relationKey(r.relation, r.item, r.group), state);
        this.counts.relations++;
        return;
      }
      case 'pending': {
        const p = entry as { offset: string; operation: Operation };
        this.pending.push({ offset: BigInt(p.offset), op: p.operation });
        this.counts.pending++;
        return;
      }
      case 'end':
        this.ended = entry as unknown as SnapshotEnd;
        return;
      default:
        throw new SnapshotFormatError(`unknown line type ${JSON.stringify(entry.type)}`);
    }
  }

  finish(): SnapshotContents {
    if (!this.header) throw new SnapshotFormatError('no header line');
    const end = this.ended;
    if (!end) throw new SnapshotFormatError('the stream ended before its end line (incomplete)');
    if (
      end.records !== this.counts.records ||
      end.relations !== this.counts.relations ||
      (end.pending ?? 0) !== this.counts.pending
    ) {
      throw new SnapshotFormatError('line counts do not match the end line');
    }
    this.pending.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    for (const logged of this.pending) {
      if (!isRecordOp(logged.op)) continue;
      const list = this.slice.pending.get(logged.op.recordId) ?? [];
      list.push(logged);
      this.slice.pending.set(logged.op.recordId, list);
      // A pending op is in the feed; the engine revokes it by identity if its CREATE rejects it.
      const identity: AcceptedIdentity = {
        offset: logged.offset,
        contentHash: contentHash(logged.op),
      };
      this.slice.accepted.set(opIdentityKey(logged.op), identity);
    }
    return {
      header: this.header,
      slice: this.slice,
      offset: this.header.offset === null ? null : BigInt(this.header.offset),
      clock: this.header.clock === null ? null : BigInt(this.header.clock),
      lines: this.lines,
    };
  }
}

/** Decodes a whole snapshot held as NDJSON text (small libraries, tests). */
export function decodeSnapshot(ndjson: string): SnapshotContents {
  const builder = new SnapshotSliceBuilder();
  for (const line of ndjson.split('\n')) {
    if (line.trim().length > 0) builder.addLine(line);
  }
  return builder.finish();
}
