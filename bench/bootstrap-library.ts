import { randomUUID } from 'node:crypto';
import {
  type JsonObject,
  type LoggedOperation,
  type Operation,
  hybridFromMillis,
} from '@sync/protocol';
import type { OptionSpec } from './bench-args';

/*
 * The initial-sync benchmarks' library (bench/bootstrap.bench.ts, bench/client-bootstrap.bench.ts):
 * each record gets a CREATE (every field set) and two UPDATEs, every Object a TagOnObject
 * relation to a Tag of its chunk; ops from four nodes, increasing hybrids, log offsets 0..n-1.
 * Half the records are owned FilePaths (the bulk of a real library), the rest shared.
 */

/** Both benchmarks' library sizes: `--sizes`, and a 1,000,000-record library with `--huge`. */
export const LIBRARY_SIZE_OPTIONS = {
  sizes: {
    kind: 'integers',
    description: 'records per library, a library each',
    default: [10_000, 100_000],
  },
  huge: { kind: 'flag', description: 'adds a 1,000,000-record library' },
} as const satisfies Record<string, OptionSpec>;

export function librarySizes(args: { sizes: readonly number[]; huge: boolean }): number[] {
  return [...args.sizes, ...(args.huge ? [1_000_000] : [])];
}

/** Records per chunk; a chunk's ops touch only its own records (its relations its own Tags). */
export const CHUNK = 1000;

const KINDS = ['Tag', 'Label', 'Object', 'Object', 'Object', 'Object'] as const;
const FILE_PATH = 'FilePath';

/** Every field of a model set, values varied by `i`. */
function createData(model: string, i: number): JsonObject {
  const at = new Date(1_700_000_000_000 + i * 1000).toISOString();
  switch (model) {
    case 'Tag':
      return {
        name: `tag ${i}`,
        color: '#a0b0c0',
        is_hidden: false,
        date_created: at,
        date_modified: at,
      };
    case 'Label':
      return { name: `label ${i}`, date_created: at, date_modified: at };
    case 'Object':
      return {
        kind: i % 20,
        favorite: i % 7 === 0,
        important: false,
        hidden: false,
        note: `note for object ${i}`,
        date_created: at,
        date_accessed: at,
      };
    default:
      return {
        name: `file-${i}`,
        extension: 'jpg',
        materialized_path: `/photos/2025/${i % 97}/`,
        is_dir: false,
        size_in_bytes: 1000 + i,
        cas_id: `cas${i.toString(16).padStart(12, '0')}`,
        location: null,
        object: null,
        date_created: at,
        date_modified: at,
      };
  }
}

/** Fields the two UPDATEs of a record set (one model field each, both strings or ints). */
const UPDATED: Record<string, [string, string]> = {
  Tag: ['name', 'color'],
  Label: ['name', 'date_modified'],
  Object: ['note', 'kind'],
  FilePath: ['name', 'size_in_bytes'],
};

/** The log of a `size`-record library, one chunk of CHUNK records at a time, in log order. */
export function* libraryChunks(size: number): Generator<LoggedOperation[]> {
  const nodes = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  let offset = 0n;
  let hybrid = hybridFromMillis(1_764_000_000_000);
  const stamp = (node: string) => ({ node, timestamp: { hybrid: (hybrid += 16n).toString() } });
  for (let start = 0; start < size; start += CHUNK) {
    const count = Math.min(CHUNK, size - start);
    const records = Array.from({ length: count }, (_, k) => {
      const i = start + k;
      const model = i % 2 === 1 ? FILE_PATH : KINDS[(i >> 1) % KINDS.length];
      return { id: randomUUID(), model, node: nodes[i % nodes.length], i };
    });
    const ops: Operation[] = [];
    for (const r of records) {
      ops.push({
        type: 'CREATE',
        recordId: r.id,
        model: r.model,
        data: createData(r.model, r.i),
        ...stamp(r.node),
      });
    }
    for (const round of [0, 1]) {
      for (const r of records) {
        const field = UPDATED[r.model][round];
        const value =
          field === 'kind' || field === 'size_in_bytes'
            ? r.i + round + 1
            : field === 'date_modified'
              ? new Date(1_800_000_000_000 + r.i * 1000 + round).toISOString()
              : `${field} v${round + 2} ${r.i}`;
        ops.push({
          type: 'UPDATE',
          recordId: r.id,
          model: r.model,
          field,
          value,
          ...stamp(r.node),
        });
      }
    }
    const tags = records.filter((r) => r.model === 'Tag');
    for (const r of records) {
      if (r.model !== 'Object' || tags.length === 0) continue;
      ops.push({
        type: 'CREATE',
        relation: 'TagOnObject',
        relationItem: r.id,
        relationGroup: tags[r.i % tags.length].id,
        data: { date_created: new Date(1_700_000_000_000 + r.i).toISOString() },
        ...stamp(r.node),
      });
    }
    yield ops.map((op) => ({ offset: offset++, op }));
  }
}
