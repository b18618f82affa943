import { randomUUID } from 'node:crypto';
import { APPLIED_CHANNEL } from '@sync/persistence';
import type { Client, Pool, PoolClient } from 'pg';

/**
 * SQL seeding for the query service tests: rows shaped like the projector writes them
 * (see libs/persistence/src/migrations), so the query side is tested without Kafka.
 */
type Db = Pool | PoolClient | Client;

export const NODE_A = '0a0a0a0a-0000-4000-8000-00000000000a';

let hybridCounter = 1_700_000_000n << 32n;
export function nextHybrid(): string {
  hybridCounter += 16n;
  return hybridCounter.toString();
}

/** Sorted like Postgres sorts uuid (bytewise, which is lowercase hex order). */
export function sortedIds(ids: string[]): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function insertLibrary(
  db: Db,
  libraryId: string,
  partition: number,
  counters: { operations?: number; rejected?: number } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO libraries (library_id, partition, operations, rejected, first_offset, last_offset)
     VALUES ($1, $2, $3, $4, 0, 0)`,
    [libraryId, partition, counters.operations ?? 0, counters.rejected ?? 0],
  );
}

export async function insertRecord(
  db: Db,
  libraryId: string,
  record: { id?: string; model: string; data?: Record<string, unknown>; deleted?: boolean },
): Promise<string> {
  const id = record.id ?? randomUUID();
  const data = record.data ?? {};
  const clocks = Object.fromEntries(Object.keys(data).map((key) => [key, [nextHybrid(), NODE_A]]));
  await db.query(
    `INSERT INTO records (library_id, record_id, model, owner, deleted, data, clocks, updated_offset)
     VALUES ($1, $2, $3, NULL, $4, $5, $6, 0)`,
    [
      libraryId,
      id,
      record.model,
      record.deleted ?? false,
      JSON.stringify(data),
      JSON.stringify(clocks),
    ],
  );
  return id;
}

/** Many records of one model in one statement. */
export async function insertRecords(
  db: Db,
  libraryId: string,
  model: string,
  ids: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO records (library_id, record_id, model, owner, deleted, data, clocks, updated_offset)
     SELECT $1, id, $2, NULL, false, jsonb_build_object('name', 'n-' || id::text), '{}', 0
       FROM unnest($3::uuid[]) AS id`,
    [libraryId, model, ids],
  );
}

export async function insertRelation(
  db: Db,
  libraryId: string,
  relation: {
    relation: string;
    item: string;
    group: string;
    present?: boolean;
    data?: Record<string, unknown>;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO relations (library_id, relation, item_id, group_id, present, presence_clock, data, clocks, updated_offset)
     VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', 0)`,
    [
      libraryId,
      relation.relation,
      relation.item,
      relation.group,
      relation.present ?? true,
      JSON.stringify([nextHybrid(), NODE_A]),
      JSON.stringify(relation.data ?? {}),
    ],
  );
}

export async function insertOperation(
  db: Db,
  libraryId: string,
  offset: number,
  operation: Record<string, unknown>,
): Promise<void> {
  const timestamp = operation.timestamp as { hybrid: string };
  await db.query(
    `INSERT INTO operations (library_id, log_offset, node, hybrid, content_hash, operation)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      libraryId,
      offset,
      operation.node,
      timestamp.hybrid,
      `hash-${offset}`,
      JSON.stringify(operation),
    ],
  );
}

export async function insertRejected(
  db: Db,
  libraryId: string,
  offset: number,
  operation: Record<string, unknown>,
  reason: string,
): Promise<void> {
  await db.query(
    `INSERT INTO rejected_operations (library_id, log_offset, operation, reason, message)
     VALUES ($1, $2, $3, $4, $5)`,
    [libraryId, offset, JSON.stringify(operation), reason, `${reason} (test)`],
  );
}

export async function insertPending(
  db: Db,
  libraryId: string,
  offset: number,
  recordId: string,
  operation: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `INSERT INTO pending_operations (library_id, log_offset, record_id, operation) VALUES ($1, $2, $3, $4)`,
    [libraryId, offset, recordId, JSON.stringify(operation)],
  );
}

/** What the projector does at the end of a batch: move the partition's next offset, optionally notify. */
export async function setApplied(
  db: Db,
  topic: string,
  partition: number,
  nextOffset: number | bigint,
  notify = true,
): Promise<void> {
  await db.query(
    `INSERT INTO partition_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
     ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
    [topic, partition, String(nextOffset)],
  );
  if (notify) {
    await db.query(`SELECT pg_notify($1, $2)`, [
      APPLIED_CHANNEL,
      `${topic}:${partition}:${String(nextOffset)}`,
    ]);
  }
}

export function recordCreate(
  recordId: string,
  model: string,
  data: Record<string, unknown>,
  node = NODE_A,
): Record<string, unknown> {
  return { type: 'CREATE', recordId, model, data, node, timestamp: { hybrid: nextHybrid() } };
}

export function recordUpdate(
  recordId: string,
  field: string,
  value: unknown,
  node = NODE_A,
): Record<string, unknown> {
  return { type: 'UPDATE', recordId, field, value, node, timestamp: { hybrid: nextHybrid() } };
}
