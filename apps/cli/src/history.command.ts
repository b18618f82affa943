import { hybridToMillis, normalizeUuid } from '@sync/protocol';
import { type SyncHttp, UsageError } from './cli-http';

/*
 * `history <libraryId> <recordId>`: the record's timeline from GET .../records/{id}/history
 * (CONTRACT.md section 8), one line per op: offset, time (the physical part of its hybrid),
 * node, what it did, rejected ops marked with their reason.
 */

export const HISTORY_USAGE = `  history <libraryId> <recordId> Every op the log holds for the record, accepted and rejected,
                                 in log order: offset, time, node, field changes
      --json                     Print the items as NDJSON ({"offset","operation","status","reason"?})`;

export interface HistoryItem {
  offset: string;
  operation: Record<string, unknown>;
  status: 'accepted' | 'rejected';
  reason?: string;
}

interface HistoryIo {
  out: (text: string) => void;
}

export async function history(
  http: SyncHttp,
  args: string[],
  values: { json?: boolean },
  io: HistoryIo,
): Promise<void> {
  const [libraryId, recordId] = args.map((arg) => normalizeUuid(arg));
  if (args.length !== 2 || !libraryId || !recordId) {
    throw new UsageError('history needs <libraryId> <recordId>, both UUIDs');
  }
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000' });
    if (cursor !== null) query.set('cursor', cursor);
    const page: { items: HistoryItem[]; nextCursor: string | null } = await http.getQuery(
      `/libraries/${libraryId}/records/${recordId}/history?${query.toString()}`,
    );
    for (const item of page.items) {
      io.out(`${values.json ? JSON.stringify(item) : formatHistoryItem(item)}\n`);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/** `offset  time  node  change`, e.g. `42  2026-11-24T10:00:00.000Z  0a0a…  UPDATE name = "x"`. */
export function formatHistoryItem(item: HistoryItem): string {
  const op = item.operation;
  const timestamp = op.timestamp as { hybrid: string } | undefined;
  const time = timestamp ? new Date(hybridToMillis(BigInt(timestamp.hybrid))).toISOString() : '?';
  const model = typeof op.model === 'string' ? ` ${op.model}` : '';
  let change: string;
  if (op.type === 'CREATE') {
    const data = (op.data ?? {}) as Record<string, unknown>;
    const fields = Object.entries(data).map(
      ([name, value]) => `${name} = ${JSON.stringify(value)}`,
    );
    change = `CREATE${model}${fields.length ? ` ${fields.join(', ')}` : ''}`;
  } else if (op.type === 'UPDATE') {
    change = `UPDATE${model} ${String(op.field)} = ${JSON.stringify(op.value)}`;
  } else {
    change = `DELETE${model}`;
  }
  const mark = item.status === 'rejected' ? `  REJECTED ${item.reason ?? ''}` : '';
  return `${item.offset.padStart(8)}  ${time}  ${String(op.node)}  ${change}${mark}`;
}
