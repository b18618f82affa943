import { type Clock, type FieldWrite, type JsonValue, type RecordState, setOwn } from '../protocol';
import { CompactRecordCodec, type CompactTables } from './compact-record';
import { FieldShapes } from './field-shapes';
import { ClockInterner, type WireRecord } from './wire-record';

/**
 * A record row as the confirmed layer keeps it: no object per field. Field names are one array
 * shared by every row with the same fields (a library has few shapes), and `writes` holds each
 * field's value and clock side by side ([value0, clock0, value1, clock1, ...]); values are kept
 * as they came, clocks are the objects the row was given (a row's fields written by one op share
 * one). About half the heap of the engine's RecordState for the benchmark library's records.
 */
export class PackedRecord {
  constructor(
    readonly recordId: string,
    readonly model: string,
    readonly owner: string | null,
    readonly deleted: boolean,
    readonly names: readonly string[],
    readonly writes: readonly (JsonValue | Clock)[],
  ) {}
}

/**
 * A row as PackedRecords keeps it: packed, or as text until first read: a snapshot line
 * (wire-record) or compact text (compact-record), told apart by isSnapshotLine.
 */
export type StoredRow = PackedRecord | string;

/** Whether kept text is a snapshot line (it starts with `{`) rather than compact text (a digit). */
export const isSnapshotLine = (text: string): boolean => text.charCodeAt(0) === 123;

/**
 * Records by id, stored packed and handed out as the engine's RecordState: get() and iteration
 * build the row again, equal to the one set (same fields in the same order, the same values and
 * clock objects). Rows are never mutated in place (the engine copies a row before writing it),
 * so a rebuilt row is as good as the stored one. Only the rows a batch touches or a read asks
 * for are rebuilt, and only for as long as the caller holds them.
 *
 * A row from a snapshot is kept as text until it is first read or written: as compact text
 * (setSnapshotRecord: about a third of its line, and less than half a packed row's heap), or as
 * the line itself (setLine: what a store of format 2 holds, or a row with too many clocks).
 * Nothing is decoded at bootstrap, and a full save writes such rows as they are (compact text
 * after compactTables()). The first read decodes the row the snapshot describes, clocks interned
 * (one Clock per distinct clock of the row, shared node ids), and keeps it packed from then on.
 */
export class PackedRecords extends Map<string, RecordState> {
  private readonly shapes = new FieldShapes();
  private readonly clocks = new ClockInterner();
  private readonly compact = new CompactRecordCodec(this.clocks, this.shapes);

  constructor(rows?: Iterable<readonly [string, RecordState]>) {
    // The base constructor would call set() before `shapes` exists.
    super();
    if (rows !== undefined) for (const [id, row] of rows) this.set(id, row);
  }

  override get(id: string): RecordState | undefined {
    const stored = this.kept(id);
    return stored === undefined ? undefined : this.row(id, stored);
  }

  override set(id: string, row: RecordState): this {
    return super.set(id, this.pack(row) as unknown as RecordState);
  }

  /**
   * Keeps record `id` as a snapshot line's text (as a store of format 2 saved it), checked already
   * (wire-record's checkWireRecord) and describing a record with this id. A line cut from a
   * larger text keeps that text alive (V8 slices share their parent) until every line of it is
   * replaced.
   */
  setLine(id: string, line: string): void {
    // Kept text is told apart by its first character (isSnapshotLine).
    super.set(id, (isSnapshotLine(line) ? line : line.trimStart()) as unknown as RecordState);
  }

  /**
   * Keeps record `id` of a snapshot line, `record` as parsed and checked (checkWireRecord), as
   * compact text; `line` is kept instead in the rare row with more distinct clocks than that
   * text lists (never a line whose clocks came compact: those fit). The line is not retained
   * otherwise, nor the piece it was cut from.
   */
  setSnapshotRecord(record: WireRecord, line: string): void {
    const compact = this.compact.encode(record);
    if (compact === undefined) this.setLine(record.id, line);
    else super.set(record.id, compact as unknown as RecordState);
  }

  /**
   * Keeps record `id` as compact text a store saved, after adoptCompactTables() took the tables
   * saved with it; checked here, so that a read cannot fail later.
   */
  setCompact(id: string, text: string): void {
    this.compact.check(text);
    super.set(id, text as unknown as RecordState);
  }

  /** What the compact texts storedEntries() gives refer to; saved before them. */
  compactTables(): CompactTables {
    return this.compact.tables();
  }

  /** Takes the tables a store saved with compact texts, before any row is set. */
  adoptCompactTables(tables: CompactTables): void {
    this.compact.adopt(tables);
  }

  /** Record `id` when it is kept packed, without rebuilding its RecordState; do not mutate. */
  packedRow(id: string): PackedRecord | undefined {
    const stored = this.kept(id);
    return typeof stored === 'object' ? stored : undefined;
  }

  override *values(): MapIterator<RecordState> {
    for (const [id, stored] of super.entries()) yield this.row(id, stored as unknown as StoredRow);
  }

  override *entries(): MapIterator<[string, RecordState]> {
    for (const [id, stored] of super.entries()) {
      yield [id, this.row(id, stored as unknown as StoredRow)];
    }
  }

  /**
   * The rows as kept, in order, without rebuilding a RecordState each (a full save writes them
   * straight from here); do not mutate.
   */
  *storedEntries(): Generator<[string, StoredRow]> {
    for (const [id, stored] of super.entries()) yield [id, stored as unknown as StoredRow];
  }

  override [Symbol.iterator](): MapIterator<[string, RecordState]> {
    return this.entries();
  }

  override forEach(
    callback: (row: RecordState, id: string, map: Map<string, RecordState>) => void,
    thisArg?: unknown,
  ): void {
    for (const [id, row] of this.entries()) callback.call(thisArg, row, id, this);
  }

  private kept(id: string): StoredRow | undefined {
    return super.get(id) as unknown as StoredRow | undefined;
  }

  private row(id: string, stored: StoredRow): RecordState {
    if (typeof stored !== 'string') return unpack(stored);
    // Decoded once: text costs more than an unpack to read again.
    // Replacing the value of a key the map already holds is safe while iterating it.
    const row = isSnapshotLine(stored)
      ? this.clocks.record(stored)
      : this.compact.decode(id, stored);
    super.set(id, this.pack(row) as unknown as RecordState);
    return row;
  }

  private pack(row: RecordState): PackedRecord {
    const names = Object.keys(row.fields);
    // Sized up front: an array grown by push keeps spare capacity, about as much again.
    const writes = new Array<JsonValue | Clock>(names.length * 2);
    for (let i = 0; i < names.length; i++) {
      const write = row.fields[names[i]];
      writes[2 * i] = write.value;
      writes[2 * i + 1] = write.clock;
    }
    return new PackedRecord(
      row.recordId,
      row.model,
      row.owner,
      row.deleted,
      this.shapes.of(names),
      writes,
    );
  }
}

function unpack(packed: PackedRecord): RecordState {
  const { names, writes } = packed;
  const fields: Record<string, FieldWrite> = {};
  for (let i = 0; i < names.length; i++) {
    setOwn(fields, names[i], {
      value: writes[2 * i] as JsonValue,
      clock: writes[2 * i + 1] as Clock,
    });
  }
  return {
    recordId: packed.recordId,
    model: packed.model,
    owner: packed.owner,
    deleted: packed.deleted,
    fields,
  };
}
