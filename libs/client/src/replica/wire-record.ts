import {
  type Clock,
  CompactClocksParser,
  type FieldWrite,
  type JsonValue,
  type ParsedCompactClocks,
  type RecordState,
  clockDigitAt,
  isCanonicalHybrid,
  isPlainObject,
  setOwn,
} from '../protocol';

/*
 * A record's line of a full snapshot (GET /libraries/{id}/snapshot, view=full), kept as its text:
 * a node that bootstraps holds the records it has not touched since as the lines they came in
 * (PackedRecords) and saves them as they are, so neither the bootstrap nor its save decodes or
 * encodes a row. This file checks such a line once, when it arrives, and turns it into the
 * engine's RecordState when a row is read.
 *
 * A line's `clocks` is an object (`{"name":["7576…","9a3c…-…"],…}`) or, from a server asked for
 * `clocks=compact`, the text @sync/protocol's compactClocks prints
 * (`name,color;01;7576…;9a3c…-…;7577…;9a3c…-…`); a server may answer either form for any row.
 */

export type WireClock = [hybrid: string, node: string];

/** A row's field clocks as a snapshot line spells them: by field, or as compact text. */
export type WireClocks = Record<string, WireClock> | string;

/** A record line of a full snapshot, as parsed. */
export interface WireRecord {
  type: 'record';
  id: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  data: Record<string, JsonValue>;
  clocks: WireClocks;
}

export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(`snapshot: ${message}`);
    this.name = 'SnapshotFormatError';
  }
}

/*
 * Compact clocks are parsed by one parser that remembers the names and nodes it checked, and
 * the last text: the snapshot builder's next step (CompactRecordCodec.encode of the record just
 * checked) takes that result instead of parsing again.
 */
const compactClocks = new CompactClocksParser();

/**
 * `value` (a parsed record line) checked to the last clock (compact clocks: exactly what
 * compactClocks prints), so that a line kept as text cannot fail later, when a merge or a read
 * decodes it.
 */
export function checkWireRecord(value: unknown): WireRecord {
  if (!isPlainObject(value)) throw new SnapshotFormatError('a record line is not an object');
  const { id, model, owner, deleted, data, clocks } = value;
  if (typeof id !== 'string' || typeof model !== 'string') {
    throw new SnapshotFormatError('a record line without its id or model');
  }
  if (!(owner === null || typeof owner === 'string') || typeof deleted !== 'boolean') {
    throw new SnapshotFormatError(`record ${id}: owner or deleted is malformed`);
  }
  if (isPlainObject(data) && typeof clocks === 'string') {
    if (compactClocks.parse(clocks) === undefined) {
      throw new SnapshotFormatError(`record ${id}: its compact clocks are malformed`);
    }
    return value as unknown as WireRecord;
  }
  if (!isPlainObject(data) || !isPlainObject(clocks)) {
    throw new SnapshotFormatError(`record ${id}: data or clocks is not an object`);
  }
  for (const name in clocks) {
    const clock = clocks[name];
    if (
      !Array.isArray(clock) ||
      clock.length !== 2 ||
      !isCanonicalHybrid(clock[0]) ||
      typeof clock[1] !== 'string'
    ) {
      throw new SnapshotFormatError(`record ${id}: the clock of field ${name} is malformed`);
    }
  }
  return value as unknown as WireRecord;
}

/** `clocks`, compact clocks of a checked record line, taken apart (names shared: do not mutate). */
export function parsedClocks(clocks: string): ParsedCompactClocks {
  const parsed = compactClocks.parse(clocks);
  if (parsed === undefined) throw new SnapshotFormatError('malformed compact clocks');
  return parsed;
}

/** Distinct clocks a decoded row shares at most (see ClockInterner.fields). */
const ROW_CLOCKS = 16;

/**
 * Clocks as the engine holds them, interned: node ids are shared strings (a library has few
 * nodes), and the fields of one row written by the same op share one Clock, as they do when the
 * engine merges the op itself.
 */
export class ClockInterner {
  private readonly indexes = new Map<string, number>();
  private readonly nodes: string[] = [];

  node(node: string): string {
    return this.nodes[this.nodeIndex(node)];
  }

  /** A number for `node`, the same for the life of this interner (compact-record keeps it). */
  nodeIndex(node: string): number {
    let index = this.indexes.get(node);
    if (index === undefined) {
      index = this.nodes.push(node) - 1;
      this.indexes.set(node, index);
    }
    return index;
  }

  /** How many nodes are numbered (0 to nodeCount() - 1). */
  nodeCount(): number {
    return this.nodes.length;
  }

  /** The node nodeIndex() gave `index`. */
  nodeAt(index: number): string {
    return this.nodes[index];
  }

  clock([hybrid, node]: WireClock): Clock {
    return { hybrid: BigInt(hybrid), node: this.node(node) };
  }

  /**
   * A row's field registers: a field counts as written iff it has a clock. Fields in the order
   * `clocks` lists them (compact text: jsonb's key order, as the object form a server sends).
   */
  fields(
    data: Record<string, unknown> | undefined,
    clocks: WireClocks | undefined,
  ): Record<string, FieldWrite> {
    const values = data ?? {};
    if (typeof clocks === 'string') return this.compactFields(values, parsedClocks(clocks));
    const wires = clocks ?? {};
    const fields: Record<string, FieldWrite> = {};
    // The row's distinct clocks so far, found by a scan (a row has a few: one per op that wrote
    // it); cheaper than a Map and a key string per field. Past ROW_CLOCKS distinct ones, a new
    // clock is just not shared.
    const seen: WireClock[] = [];
    const shared: Clock[] = [];
    for (const name of Object.keys(wires)) {
      const wire = wires[name];
      const index = seen.findIndex((w) => w[0] === wire[0] && w[1] === wire[1]);
      let clock: Clock;
      if (index >= 0) clock = shared[index];
      else {
        clock = this.clock(wire);
        if (seen.length < ROW_CLOCKS) {
          seen.push(wire);
          shared.push(clock);
        }
      }
      const value = (Object.hasOwn(values, name) ? values[name] : null) as JsonValue;
      setOwn(fields, name, { value, clock });
    }
    return fields;
  }

  /** fields() of compact clocks: one Clock per distinct clock, as each is listed once. */
  private compactFields(
    values: Record<string, unknown>,
    { names, picks, hybrids, nodes }: ParsedCompactClocks,
  ): Record<string, FieldWrite> {
    const shared: Clock[] = [];
    for (let k = 0; k < hybrids.length; k++) shared.push(this.clock([hybrids[k], nodes[k]]));
    const fields: Record<string, FieldWrite> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = (Object.hasOwn(values, name) ? values[name] : null) as JsonValue;
      setOwn(fields, name, { value, clock: shared[clockDigitAt(picks, i)] });
    }
    return fields;
  }

  /** The engine's row of a record line (checked when it arrived), clocks in either form. */
  record(line: string): RecordState {
    const r = JSON.parse(line) as WireRecord;
    return {
      recordId: r.id,
      model: r.model,
      owner: r.owner === null ? null : this.node(r.owner),
      deleted: r.deleted,
      fields: this.fields(r.data, r.clocks),
    };
  }
}
