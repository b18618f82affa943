import { Inject, Injectable } from '@nestjs/common';
import { SyncError } from '@sync/platform';
import {
  type LibrarySlice,
  type LoggedOperation,
  type Operation,
  type RecordState,
  type RecordView,
  type RelationState,
  type RelationView,
  emptySlice,
  identityKey,
  isRecordVisible,
  isRelationVisible,
  mergeBatch,
  opIdentityKey,
  recordView,
  relationKey,
  relationView,
} from '@sync/protocol';
import { type RelationCursorKey, recordCursor, relationCursor } from './cursor';
import { RECORD_KEY_SQL, RELATION_KEY_SQL } from './op-log-keys.sql';
import type { QueryConfig } from './query.config';
import type { FieldWriteDto, RecordDto } from './query.dto';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { RelationFilter } from './relations.repository';
import { type Page, toPage } from './views';

/** Candidate keys per round trip; bounds memory whatever the library's size. */
export const AS_OF_BATCH = 1000;

interface OpRow {
  log_offset: string;
  operation: Operation;
}

/**
 * A page from batches of visible candidates, the first batch as large as the page (then larger,
 * see keyBatches): reads until it holds `limit` + 1, so it knows whether another page follows.
 */
async function firstPage<T>(
  limit: number,
  batches: (first: number) => AsyncIterable<T[]>,
  cursor: (item: T) => string,
): Promise<Page<T>> {
  const found: T[] = [];
  for await (const items of batches(Math.min(AS_OF_BATCH, limit + 1))) {
    found.push(...items);
    if (found.length > limit) break;
  }
  return toPage(found.slice(0, limit + 1), limit, (item) => item, cursor);
}

/**
 * Keys in keyset order from `read`, a batch at a time: `first` keys, then twice as many each
 * round up to AS_OF_BATCH (a page reads as many candidates as it needs first).
 */
async function* keyBatches<K>(
  after: K | null,
  first: number,
  read: (after: K | null, batch: number) => Promise<K[]>,
): AsyncGenerator<K[]> {
  let cursor = after;
  for (let batch = first; ; batch = Math.min(AS_OF_BATCH, batch * 2)) {
    const keys = await read(cursor, batch);
    if (keys.length === 0) return;
    yield keys;
    if (keys.length < batch) return;
    cursor = keys[keys.length - 1];
  }
}

/**
 * Time travel (CONTRACT.md section 8, `asOf`). Decisions are made in log order, so the ops
 * accepted at offsets up to X are exactly those accepted when the log stood at X (an op that was
 * pending then and rejected later never had a visible effect: its record had no CREATE yet). The
 * state as of X is therefore the merge engine run over the accepted ops of the prefix; this runs
 * it key by key: candidate keys come from the projection rows in key order (a record or relation
 * that existed at X has a row now, rows are never removed), their ops up to X from the op log's
 * key indexes. Nothing live is written, the answer for X never changes, and paging is keyset on
 * the same keys as the live lists, so it is exact and stable.
 */
@Injectable()
export class AsOfRepository {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {}

  /**
   * 410 SNAPSHOT_REQUIRED when a compaction dropped ops the state as of `asOf` may need: a
   * dropped op was superseded by one at most libraries.compacted_through, so states from there
   * on are exact (docs/RETENTION.md).
   */
  async checkHorizon(libraryId: string, asOf: bigint): Promise<void> {
    const rows = await this.database.query<{ compacted_through: string }>(
      `SELECT compacted_through::text FROM libraries WHERE library_id = $1`,
      [libraryId],
    );
    const floor = rows[0] === undefined ? -1n : BigInt(rows[0].compacted_through);
    if (asOf >= floor) return;
    throw new SyncError(
      'SNAPSHOT_REQUIRED',
      `the op log of this library was compacted through offset ${floor}: states before it ` +
        `cannot be rebuilt; read asOf ${floor} or later, or bootstrap from ` +
        `GET /libraries/${libraryId}/snapshot`,
      [
        {
          horizon: floor.toString(),
          asOf: asOf.toString(),
          snapshot: `/libraries/${libraryId}/snapshot?view=full`,
        },
      ],
    );
  }

  /**
   * A visible record as of `asOf`; with `explain`, per written field the op whose write it holds
   * (node, hybrid, and its offset among the ops merged).
   */
  async record(
    libraryId: string,
    asOf: bigint,
    recordId: string,
    explain = false,
  ): Promise<RecordDto | undefined> {
    const ops = await this.opsByKey(RECORD_KEY_SQL, libraryId, asOf, [recordId]);
    const state = merge(this.config, ops).records.get(recordId);
    if (!isRecordVisible(state)) return undefined;
    const view: RecordDto = recordView(this.config.schema, state);
    if (!explain) return view;
    const offsets = new Map(ops.map(({ offset, op }) => [opIdentityKey(op), offset]));
    const writes: Record<string, FieldWriteDto> = {};
    for (const [field, { clock }] of Object.entries(state.fields)) {
      const hybrid = clock.hybrid.toString();
      const offset = offsets.get(identityKey(clock.node, hybrid));
      writes[field] = { node: clock.node, hybrid, offset: String(offset) };
    }
    return { ...view, writes };
  }

  /** Visible records as of `asOf`, by id, keyset after `after`. */
  async records(
    libraryId: string,
    asOf: bigint,
    model: string | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Page<RecordView>> {
    return firstPage(
      limit,
      (first) => this.recordBatches(libraryId, asOf, model, after, first),
      (view) => recordCursor.encode(view.id),
    );
  }

  /** Visible records as of `asOf` in id order, a batch of candidates at a time. */
  async *recordBatches(
    libraryId: string,
    asOf: bigint,
    model?: string,
    after?: string,
    batch = AS_OF_BATCH,
  ): AsyncGenerator<RecordView[]> {
    for await (const states of this.recordStates(libraryId, asOf, model, after, batch)) {
      yield states.filter(isRecordVisible).map((state) => recordView(this.config.schema, state));
    }
  }

  /** Records that had a CREATE as of `asOf` (deleted ones too), in id order, in batches. */
  async *recordStates(
    libraryId: string,
    asOf: bigint,
    model?: string,
    after?: string,
    first = AS_OF_BATCH,
  ): AsyncGenerator<RecordState[]> {
    const ids = keyBatches<string>(after ?? null, first, async (cursor, batch) => {
      const where = new Conditions([libraryId, batch]);
      if (model !== undefined) where.add((ref) => `model = ${ref}`, model);
      if (cursor !== null) where.add((ref) => `record_id > ${ref}`, cursor);
      const rows = await this.database.query<{ record_id: string }>(
        `SELECT record_id FROM records WHERE library_id = $1 ${where.sql}
          ORDER BY record_id LIMIT $2`,
        where.params,
      );
      return rows.map((row) => row.record_id);
    });
    for await (const batch of ids) {
      const records = merge(
        this.config,
        await this.opsByKey(RECORD_KEY_SQL, libraryId, asOf, batch),
      ).records;
      yield batch.flatMap((id) => records.get(id) ?? []);
    }
  }

  /** Visible relations as of `asOf`, by (relation, item, group), keyset after `after`. */
  async relations(
    libraryId: string,
    asOf: bigint,
    filter: RelationFilter,
    after: RelationCursorKey | undefined,
    limit: number,
  ): Promise<Page<RelationView>> {
    return firstPage(
      limit,
      (first) => this.relationBatches(libraryId, asOf, filter, after, first),
      (view) => relationCursor.encode(view),
    );
  }

  /** Visible relations as of `asOf` in key order, a batch of candidates at a time. */
  async *relationBatches(
    libraryId: string,
    asOf: bigint,
    filter: RelationFilter,
    after?: RelationCursorKey,
    batch = AS_OF_BATCH,
  ): AsyncGenerator<RelationView[]> {
    for await (const states of this.relationStates(libraryId, asOf, filter, after, batch)) {
      yield states
        .filter(({ visible }) => visible)
        .map(({ state }) => relationView(this.config.schema, state));
    }
  }

  /** Relations that had an op as of `asOf`, with their visibility (L3), in key order. */
  async *relationStates(
    libraryId: string,
    asOf: bigint,
    filter: RelationFilter,
    after?: RelationCursorKey,
    first = AS_OF_BATCH,
  ): AsyncGenerator<{ state: RelationState; visible: boolean }[]> {
    const keys = keyBatches<RelationCursorKey>(after ?? null, first, async (cursor, batch) => {
      const where = new Conditions([libraryId, batch]);
      if (filter.relation !== undefined) where.add((ref) => `relation = ${ref}`, filter.relation);
      if (filter.item !== undefined) where.add((ref) => `item_id = ${ref}`, filter.item);
      if (filter.group !== undefined) where.add((ref) => `group_id = ${ref}`, filter.group);
      if (cursor !== null) {
        where.add(
          (refs) => `(relation, item_id, group_id) > (${refs})`,
          cursor.relation,
          cursor.item,
          cursor.group,
        );
      }
      return this.database.query<RelationCursorKey>(
        `SELECT relation, item_id AS item, group_id AS "group" FROM relations
          WHERE library_id = $1 ${where.sql}
          ORDER BY relation, item_id, group_id LIMIT $2`,
        where.params,
      );
    });
    for await (const batch of keys) {
      const ends = new Set<string>();
      for (const key of batch) ends.add(key.item).add(key.group);
      const [relationOps, recordOps] = await Promise.all([
        this.opsByKey(
          RELATION_KEY_SQL,
          libraryId,
          asOf,
          batch.map((key) => relationKey(key.relation, key.item, key.group)),
        ),
        this.opsByKey(RECORD_KEY_SQL, libraryId, asOf, [...ends]),
      ]);
      const slice = merge(this.config, byOffset(relationOps, recordOps));
      yield batch.flatMap((key) => {
        const state = slice.relations.get(relationKey(key.relation, key.item, key.group));
        return state === undefined ? [] : [{ state, visible: this.visible(slice, state) }];
      });
    }
  }

  private visible(slice: LibrarySlice, state: RelationState): boolean {
    return isRelationVisible(
      this.config.schema,
      state,
      slice.records.get(state.item),
      slice.records.get(state.group),
    );
  }

  /**
   * Record ops kept pending as of `asOf` (R3: no CREATE of their record accepted by then), in
   * log order, keyset after `after`. Ops pending then and rejected later are not listed: they
   * are no longer in the feed, and a node that merges on from here rejects nothing they could
   * have changed (their record had no CREATE yet).
   */
  async pending(
    libraryId: string,
    asOf: bigint,
    after: bigint,
    limit: number,
  ): Promise<LoggedOperation[]> {
    return logged(
      await this.database.query<OpRow>(
        `SELECT o.log_offset::text, o.operation FROM operations o
          WHERE o.library_id = $1 AND o.log_offset > $2 AND o.log_offset <= $3
            AND ${RECORD_KEY_SQL} IS NOT NULL
            AND NOT EXISTS (
              SELECT 1 FROM operations c
               WHERE c.library_id = $1 AND (c.operation->>'recordId') = (o.operation->>'recordId')
                 AND c.log_offset <= $3 AND c.operation->>'type' = 'CREATE')
          ORDER BY o.log_offset LIMIT $4`,
        [libraryId, after.toString(), asOf.toString(), limit],
      ),
    );
  }

  /** Greatest hybrid among the accepted ops up to `asOf` (the snapshot header's clock). */
  async clock(libraryId: string, asOf: bigint): Promise<string | null> {
    const rows = await this.database.query<{ clock: string | null }>(
      `SELECT max(hybrid)::text AS clock FROM operations WHERE library_id = $1 AND log_offset <= $2`,
      [libraryId, asOf.toString()],
    );
    return rows[0].clock;
  }

  /**
   * Accepted ops up to `asOf` whose key is one of `keys`, in log order. `keySql` is the op log's
   * key expression of records or of relations (op-log-keys.sql.ts), each backed by its index.
   */
  private async opsByKey(
    keySql: string,
    libraryId: string,
    asOf: bigint,
    keys: string[],
  ): Promise<LoggedOperation[]> {
    return logged(
      await this.database.query<OpRow>(
        `SELECT o.log_offset::text, o.operation FROM operations o
          WHERE o.library_id = $1 AND ${keySql} = ANY($2::text[]) AND o.log_offset <= $3
          ORDER BY o.log_offset`,
        [libraryId, keys, asOf.toString()],
      ),
    );
  }
}

/** `AND`-ed conditions with numbered parameters after the fixed ones; only set filters appear. */
class Conditions {
  sql = '';

  constructor(readonly params: unknown[]) {}

  add(condition: (refs: string) => string, ...values: unknown[]): void {
    const refs = values.map((value) => `$${this.params.push(value)}`);
    this.sql += ` AND ${condition(refs.join(', '))}`;
  }
}

function logged(rows: OpRow[]): LoggedOperation[] {
  return rows.map((row) => ({ offset: BigInt(row.log_offset), op: row.operation }));
}

/** Two lists in log order merged into one. */
function byOffset(a: LoggedOperation[], b: LoggedOperation[]): LoggedOperation[] {
  return [...a, ...b].sort((x, y) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
}

/** The merge engine over ops of a few keys (keys are independent: their own ops decide them). */
function merge(config: QueryConfig, ops: LoggedOperation[]): LibrarySlice {
  return mergeBatch(config.schema, emptySlice(), ops).slice;
}
