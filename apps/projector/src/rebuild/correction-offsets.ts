import { partitionForLibrary } from '@sync/kafka';
import type { CorrectedLibrary } from './change-corrections';

/** The partitions whose libraries have corrections, each once, ascending. */
export function correctedPartitions(
  libraries: readonly CorrectedLibrary[],
  partitionCount: number,
): number[] {
  const partitions = new Set(libraries.map((library) => partitionOf(library, partitionCount)));
  return [...partitions].sort((a, b) => a - b);
}

/**
 * The change offset of each library's corrections: the offset reserved in its partition. The
 * partition is the one the projector recorded for the library, else the default partitioner's
 * choice, as the query service locates it.
 */
export function correctionOffsets(
  libraries: readonly CorrectedLibrary[],
  partitionCount: number,
  reserved: ReadonlyMap<number, bigint>,
): Map<string, bigint> {
  const offsets = new Map<string, bigint>();
  for (const library of libraries) {
    const partition = partitionOf(library, partitionCount);
    const offset = reserved.get(partition);
    if (offset === undefined) throw new Error(`no offset reserved in partition ${partition}`);
    offsets.set(library.libraryId, offset);
  }
  return offsets;
}

function partitionOf(library: CorrectedLibrary, partitionCount: number): number {
  return library.partition ?? partitionForLibrary(library.libraryId, partitionCount);
}
