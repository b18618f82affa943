import type { StoredSlice, StoredSliceRow } from '../replica/slice-codec';
import { checkWireRecord } from '../replica/wire-record';
import type { StoredReplica, StoredReplicaHeader } from './local-store';

/*
 * A stored replica as lines of JSON, one row per line, for stores that keep it as text: the
 * whole replica as one JSON string outgrows V8's string limit (about 0.5 GB) near a million
 * records, and building it costs a second copy of the replica. The first line is the header
 * ({version, cursor} and whatever the store adds), then one line per row:
 *
 *   ["record", StoredRecord] | ["wireRecord", <the record's snapshot line>]
 *   ["relation", StoredRelation] | ["pending", recordId, StoredLoggedOperation[]]
 *   ["accepted", identity, offset, contentHash]
 *
 * A wireRecord row is written around its line's text as it is (no parse, no stringify), and
 * read back as that text.
 */

const WIRE_RECORD = '["wireRecord",';

type Header = Record<string, unknown> & Pick<StoredReplica, 'version' | 'cursor'>;

/** The lines of a replica (without line breaks), built one at a time as `rows` yields. */
export function* replicaLines(
  header: StoredReplicaHeader,
  rows: Iterable<StoredSliceRow>,
  extra: Record<string, unknown> = {},
): Generator<string> {
  yield JSON.stringify({ ...extra, version: header.version, cursor: header.cursor });
  for (const row of rows) {
    yield row[0] === 'wireRecord' ? `${WIRE_RECORD}${row[1]}]` : JSON.stringify(row);
  }
}

/**
 * JSON.stringify(value)'s text, in pieces: objects and arrays down to `depth` levels are opened
 * and their members stringified one at a time, so a large value (a pull checkpoint's changed
 * rows) is written without ever being one string. For JSON data (no undefined in arrays, no
 * toJSON).
 */
export function* jsonPieces(value: unknown, depth: number): Generator<string> {
  if (depth <= 0 || typeof value !== 'object' || value === null) {
    yield JSON.stringify(value);
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      yield* jsonPieces(value[i], depth - 1);
    }
    yield ']';
    return;
  }
  yield '{';
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    // As JSON.stringify: a member that is undefined is left out.
    if (member === undefined) continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* jsonPieces(member, depth - 1);
  }
  yield '}';
}

/** Rebuilds a replica from its lines, fed in order; `finish` checks it got a header. */
export class ReplicaLineReader {
  private header: Header | undefined;
  private readonly slice: StoredSlice = { records: [], pending: [], relations: [], accepted: [] };

  add(line: string): void {
    const value = JSON.parse(line) as unknown;
    if (this.header === undefined) {
      this.header = value as Header;
      return;
    }
    const row = value as [string, ...unknown[]];
    switch (row[0]) {
      case 'record':
        this.slice.records.push(row[1] as StoredSlice['records'][number]);
        return;
      case 'wireRecord': {
        const { id } = checkWireRecord(row[1]);
        const text =
          line.startsWith(WIRE_RECORD) && line.endsWith(']')
            ? line.slice(WIRE_RECORD.length, -1)
            : JSON.stringify(row[1]);
        this.slice.records.push({ recordId: id, line: text });
        return;
      }
      case 'relation':
        this.slice.relations.push(row[1] as StoredSlice['relations'][number]);
        return;
      case 'pending':
        this.slice.pending.push([row[1], row[2]] as StoredSlice['pending'][number]);
        return;
      case 'accepted':
        this.slice.accepted.push([row[1], row[2], row[3]] as StoredSlice['accepted'][number]);
        return;
      default:
        throw new Error(`stored replica: unknown row ${JSON.stringify(row[0])}`);
    }
  }

  /** The header line's fields (the store's own beside version and cursor). */
  get headerLine(): Header | undefined {
    return this.header;
  }

  finish(): StoredReplica {
    if (this.header === undefined) throw new Error('stored replica: no header line');
    return {
      version: this.header.version,
      cursor: this.header.cursor,
      slice: this.slice,
    };
  }
}
