import {
  CLOCK_DIGITS,
  type Clock,
  type FieldWrite,
  type JsonValue,
  type ParsedCompactClocks,
  type RecordState,
  clockDigitAt,
  isCanonicalHybrid,
  isPlainObject,
  setOwn,
} from '../protocol';
import type { FieldShapes } from './field-shapes';
import { type ClockInterner, type WireRecord, parsedClocks } from './wire-record';

/*
 * A snapshot's record line kept as compact text until a merge or a read needs the row (see
 * PackedRecords.setSnapshotRecord). A full-view line spells each field's clock in full
 * (`"name":["7576…","9a3c…-…"]`, about 60 bytes), two thirds of the line, though a record's
 * fields share a few clocks and a library has few nodes. Kept here instead:
 *
 *   <kind>;<owner>;<deleted>;<field clocks>;<hybrid>;<node>;<hybrid>;<node>…\n<data as JSON>
 *
 * kind numbers the model and its written fields' names (shared by every row of that shape),
 * owner and the clocks' nodes are ClockInterner numbers (owner empty when null), deleted is 0
 * or 1, and field clocks has one base-36 digit per name: which of the row's distinct clocks,
 * listed after it, wrote that field. About a third of the line's length, and one flat string.
 * Stores save the text as it is, after the tables its numbers refer to (tables(), adopt()).
 *
 * The field clocks and the clocks after them are those of the snapshot's `clocks=compact` form
 * (@sync/protocol's compactClocks), with nodes by number: a line in that form is encoded without
 * a step per field, to the very text its object form (fields in jsonb's key order) encodes to.
 */

/** Distinct clocks a compact row can list: one base-36 digit (CLOCK_DIGITS) per field names them. */
const MAX_CLOCKS = CLOCK_DIGITS.length;

/** What every row of one model with one list of written fields shares. */
interface Kind {
  model: string;
  names: readonly string[];
}

/** What compact texts' numbers refer to: nodes by number, then kinds by number. */
export interface CompactTables {
  nodes: string[];
  kinds: [model: string, names: string[]][];
}

export class CompactRecordError extends Error {
  constructor(message: string) {
    super(`compact record: ${message}`);
    this.name = 'CompactRecordError';
  }
}

export class CompactRecordCodec {
  private readonly kinds: Kind[] = [];
  /** Kind numbers by shared names array (FieldShapes), then by model. */
  private readonly kindsByShape = new Map<readonly string[], Map<string, number>>();

  constructor(
    private readonly clocks: ClockInterner,
    private readonly shapes: FieldShapes,
  ) {}

  /**
   * `record` (checked by checkWireRecord) as compact text; undefined when it has more distinct
   * clocks than a compact row lists (keep its line then).
   */
  encode(record: WireRecord): string | undefined {
    const clocks = record.clocks;
    if (typeof clocks === 'string') return this.encodeCompact(record, clocks);
    const names = Object.keys(clocks);
    // The row's distinct clocks, found by a scan (a row has a few: one per op that wrote it).
    const hybrids: string[] = [];
    const nodes: string[] = [];
    let fieldClocks = '';
    for (const name of names) {
      const clock = clocks[name];
      const hybrid = clock[0];
      const node = clock[1];
      let k = 0;
      while (k < hybrids.length && (hybrids[k] !== hybrid || nodes[k] !== node)) k++;
      if (k === hybrids.length) {
        if (k === MAX_CLOCKS) return undefined;
        hybrids.push(hybrid);
        nodes.push(node);
      }
      fieldClocks += CLOCK_DIGITS[k];
    }
    return this.text(record, { names, picks: fieldClocks, hybrids, nodes });
  }

  /**
   * encode() of a record whose clocks came as compact text: that text's names, picks and clocks
   * are what encode() finds in the object form (names in jsonb's key order, clocks numbered by
   * their first field), so only the kind and the nodes are numbered here.
   */
  private encodeCompact(record: WireRecord, clocks: string): string {
    return this.text(record, parsedClocks(clocks));
  }

  /** The compact text of `record` with these clocks (see the file's comment). */
  private text(record: WireRecord, { names, picks, hybrids, nodes }: ParsedCompactClocks): string {
    const parts: (string | number)[] = [
      this.kind(record.model, names),
      record.owner === null ? '' : this.clocks.nodeIndex(record.owner),
      record.deleted ? 1 : 0,
      picks,
    ];
    for (let k = 0; k < hybrids.length; k++) {
      parts.push(hybrids[k], this.clocks.nodeIndex(nodes[k]));
    }
    // join, not +: concatenation leaves a tree of pieces, which costs more than the text.
    return [parts.join(';'), JSON.stringify(record.data)].join('\n');
  }

  /**
   * The row `text` describes, as ClockInterner.record decodes the line it came from: fields in
   * the line's order, a value only for a field with a clock, one Clock per distinct clock.
   */
  decode(recordId: string, text: string): RecordState {
    const end = text.indexOf('\n');
    const head = text.slice(0, end).split(';');
    const data = JSON.parse(text.slice(end + 1)) as Record<string, JsonValue>;
    const kind = this.kinds[Number(head[0])];
    const shared: Clock[] = [];
    for (let at = 4; at < head.length; at += 2) {
      shared.push({ hybrid: BigInt(head[at]), node: this.clocks.nodeAt(Number(head[at + 1])) });
    }
    const fieldClocks = head[3];
    const fields: Record<string, FieldWrite> = {};
    for (let i = 0; i < kind.names.length; i++) {
      const name = kind.names[i];
      const value = Object.hasOwn(data, name) ? data[name] : null;
      setOwn(fields, name, { value, clock: shared[clockDigitAt(fieldClocks, i)] });
    }
    return {
      recordId,
      model: kind.model,
      owner: head[1] === '' ? null : this.clocks.nodeAt(Number(head[1])),
      deleted: head[2] === '1',
      fields,
    };
  }

  /** The tables the numbers of every text encoded or adopted so far refer to. */
  tables(): CompactTables {
    const nodes: string[] = [];
    for (let i = 0; i < this.clocks.nodeCount(); i++) nodes.push(this.clocks.nodeAt(i));
    return { nodes, kinds: this.kinds.map(({ model, names }) => [model, [...names]]) };
  }

  /**
   * Takes a store's tables, so that the texts saved with them decode here; on a codec that has
   * numbered nothing yet (its interner included).
   */
  adopt(tables: CompactTables): void {
    if (this.kinds.length > 0 || this.clocks.nodeCount() > 0) {
      throw new CompactRecordError('tables adopted after rows were numbered');
    }
    const { nodes, kinds } = tables;
    if (!Array.isArray(nodes) || !Array.isArray(kinds)) throw new CompactRecordError('bad tables');
    nodes.forEach((node, i) => {
      if (typeof node !== 'string' || this.clocks.nodeIndex(node) !== i) {
        throw new CompactRecordError(`node ${i} of the tables is not a new string`);
      }
    });
    kinds.forEach((kind, i) => {
      const [model, names] = Array.isArray(kind) ? kind : [];
      const strings = Array.isArray(names) && names.every((name) => typeof name === 'string');
      if (typeof model !== 'string' || !strings || this.kind(model, names) !== i) {
        throw new CompactRecordError(`kind ${i} of the tables is malformed or repeated`);
      }
    });
  }

  /**
   * Throws unless `text` decodes here: checked when a store's row is loaded, so that a read
   * cannot fail later (as a snapshot line is checked when it arrives).
   */
  check(text: string): void {
    const end = text.indexOf('\n');
    const head = end < 0 ? [] : text.slice(0, end).split(';');
    const kind = this.kinds[Number(head[0])] as Kind | undefined;
    const node = (n: string) => /^\d+$/.test(n) && Number(n) < this.clocks.nodeCount();
    const distinct = (head.length - 4) / 2;
    const fieldClocks = head[3] ?? '';
    let ok =
      kind !== undefined &&
      /^\d+$/.test(head[0]) &&
      (head[1] === '' || node(head[1])) &&
      (head[2] === '0' || head[2] === '1') &&
      Number.isInteger(distinct) &&
      distinct <= MAX_CLOCKS &&
      fieldClocks.length === kind.names.length;
    for (let i = 0; ok && i < fieldClocks.length; i++) {
      const digit = clockDigitAt(fieldClocks, i);
      ok = digit >= 0 && digit < distinct;
    }
    for (let at = 4; ok && at < head.length; at += 2) {
      ok = isCanonicalHybrid(head[at]) && node(head[at + 1]);
    }
    if (ok) {
      try {
        ok = isPlainObject(JSON.parse(text.slice(end + 1)));
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new CompactRecordError(`malformed text ${JSON.stringify(text.slice(0, 80))}`);
  }

  /** The number of the kind of `model` rows with these written fields, in this order. */
  private kind(model: string, names: readonly string[]): number {
    const shape = this.shapes.of(names);
    let byModel = this.kindsByShape.get(shape);
    if (byModel === undefined) {
      byModel = new Map();
      this.kindsByShape.set(shape, byModel);
    }
    let index = byModel.get(model);
    if (index === undefined) {
      index = this.kinds.push({ model, names: shape }) - 1;
      byModel.set(model, index);
    }
    return index;
  }
}
