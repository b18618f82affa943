import type { CompactTables } from '../replica/compact-record';
import type { StoredSlice, StoredSliceChangeRow, StoredSliceRow } from '../replica/slice-codec';
import { checkWireRecord } from '../replica/wire-record';
import type { StoredReplica, StoredReplicaHeader } from './local-store';

/*
 * A stored replica as lines of JSON, one row per line, for stores that keep it as text: the
 * whole replica as one JSON string outgrows V8's string limit (about 0.5 GB) near a million
 * records, and building it costs a second copy of the replica. The first line is the header
 * ({version, cursor} and whatever the store adds), then one line per row:
 *
 *   ["record", StoredRecord] | ["wireRecord", <the record's snapshot line>]
 *   ["compactTables", CompactTables] | ["compactRecord", recordId, <compact text>]
 *   ["relation", StoredRelation] | ["pending", recordId, StoredLoggedOperation[]]
 *   ["accepted", identity, offset, contentHash]
 *
 * A wireRecord row is written around its line's text as it is (no parse, no stringify), and
 * read back as that text. compactTables comes before the first compactRecord row.
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

/** The lists of a StoredSliceChange in the order their rows come (storedSliceChangeRows). */
const CHANGE_LISTS = ['records', 'relations', 'pending', 'accepted'] as const;
const CHANGE_LIST_OF: Record<StoredSliceChangeRow[0], number> = {
  record: 0,
  relation: 1,
  pending: 2,
  accepted: 3,
};

/**
 * One append's line (without its line break), in pieces as `rows` yields them: the text of
 * JSON.stringify({...header, changes, ...extra}) for the change those rows make up, never one
 * string (a checkpoint after many pages changes a row per record).
 */
export function* changeLinePieces(
  header: StoredReplicaHeader,
  rows: Iterable<StoredSliceChangeRow>,
  extra: Record<string, unknown> = {},
): Generator<string> {
  const head = JSON.stringify({ version: header.version, cursor: header.cursor });
  yield `${head.slice(0, -1)},"changes":{"${CHANGE_LISTS[0]}":[`;
  let list = 0;
  let first = true;
  for (const row of rows) {
    const at = CHANGE_LIST_OF[row[0]];
    if (at < list)
      throw new Error(`change rows out of order: ${row[0]} after ${CHANGE_LISTS[list]}`);
    for (; list < at; first = true) yield `],"${CHANGE_LISTS[++list]}":[`;
    const entry = row[0] === 'record' || row[0] === 'relation' ? row[1] : [row[1], row[2]];
    yield `${first ? '' : ','}${JSON.stringify(entry)}`;
    first = false;
  }
  while (list < CHANGE_LISTS.length - 1) yield `],"${CHANGE_LISTS[++list]}":[`;
  const tail = JSON.stringify(extra);
  yield tail === '{}' ? ']}}' : `]},${tail.slice(1)}`;
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
      case 'compactTables':
        this.slice.compactTables = row[1] as CompactTables;
        return;
      case 'compactRecord': {
        const [, recordId, compact] = row;
        if (typeof recordId !== 'string' || typeof compact !== 'string') {
          throw new Error('stored replica: a compactRecord row without its id or text');
        }
        if (this.slice.compactTables === undefined) {
          throw new Error('stored replica: a compactRecord row before compactTables');
        }
        this.slice.records.push({ recordId, compact });
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
