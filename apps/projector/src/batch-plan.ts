import type { LoggedOperation, Operation } from '@sync/protocol';

/** Ops of one library, in log order. */
export interface LibraryOps {
  libraryId: string;
  ops: LoggedOperation[];
}

/** Groups a partition's ops by library; each group keeps log order, groups come in first-seen order. */
export function groupByLibrary(
  messages: Iterable<{ libraryId: string; offset: bigint; op: Operation }>,
): LibraryOps[] {
  const groups = new Map<string, LibraryOps>();
  for (const { libraryId, offset, op } of messages) {
    let group = groups.get(libraryId);
    if (group === undefined) groups.set(libraryId, (group = { libraryId, ops: [] }));
    group.ops.push({ offset, op });
  }
  return [...groups.values()];
}

/**
 * Splits a batch into steps of about `chunkOps` ops, applied one after the other in the same
 * transaction. A library larger than a step is cut into consecutive pieces in separate steps (a
 * later step loads what an earlier one wrote), and no step holds two pieces of one library.
 */
export function planChunks(groups: readonly LibraryOps[], chunkOps: number): LibraryOps[][] {
  const limit = Math.max(1, chunkOps);
  const chunks: LibraryOps[][] = [];
  let current: LibraryOps[] = [];
  let size = 0;
  const flush = () => {
    if (current.length > 0) chunks.push(current);
    current = [];
    size = 0;
  };
  for (const group of groups) {
    for (let start = 0; start < group.ops.length; start += limit) {
      const piece = { libraryId: group.libraryId, ops: group.ops.slice(start, start + limit) };
      if (start > 0 || size + piece.ops.length > limit) flush();
      current.push(piece);
      size += piece.ops.length;
    }
  }
  flush();
  return chunks;
}
