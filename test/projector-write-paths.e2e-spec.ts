import type { Pool } from 'pg';
import { createPgPool } from '@sync/persistence';
import type { Operation } from '@sync/protocol';
import { decodeMessage } from '../apps/projector/src/message-decoder';
import { ProjectionService } from '../apps/projector/src/projection.service';
import { randomWorkload, schema, uuid } from './projector.harness';
import { createTestDatabase } from './support/test-env';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/*
 * The projection repository writes large row sets with COPY and small ones (and upserts of rows
 * that exist) with INSERT ... SELECT, and looks up only the identities a node may have sent
 * before. The same log applied as one large batch and as many small ones must leave the same
 * rows, byte for byte, whichever path each batch took.
 */

const TABLES: Record<string, string> = {
  records: 'SELECT * FROM records ORDER BY 1, 2',
  relations: 'SELECT * FROM relations ORDER BY 1, 2, 3, 4',
  operations: 'SELECT * FROM operations ORDER BY 1, 2',
  pending_operations: 'SELECT * FROM pending_operations ORDER BY 1, 2',
  rejected_operations:
    'SELECT library_id, log_offset, operation, reason, message FROM rejected_operations ORDER BY 1, 2',
  libraries:
    'SELECT library_id, partition, operations, rejected, first_offset, last_offset FROM libraries ORDER BY 1',
};

/** Text COPY must escape: backslash, tab, newline, carriage return (and a quote for JSON). */
const AWKWARD = 'a\\b\tc\nd\re"f\u00e9';

function withAwkwardStrings(ops: Operation[]): Operation[] {
  return ops.map((op, i) => {
    if (i % 5 === 0 && op.type === 'UPDATE' && typeof op.value === 'string') {
      return { ...op, value: `${op.value}${AWKWARD}` };
    }
    return op;
  });
}

describe('projector: COPY and INSERT write paths', () => {
  const libraries = [uuid(), uuid(), uuid()];
  // Interleaved as on a partition; the last third re-sends ops of the first (duplicates).
  const log: { key: Buffer; value: Buffer }[] = [];
  {
    const perLibrary = libraries.map((_, i) =>
      withAwkwardStrings(randomWorkload(300 + i, { records: 40, ops: 400, duplicateShare: 0.05 })),
    );
    for (let i = 0; i < 400; i++) {
      libraries.forEach((library, l) => {
        log.push({
          key: Buffer.from(library),
          value: Buffer.from(JSON.stringify(perLibrary[l][i])),
        });
      });
    }
    for (let i = 0; i < 60; i++) log.push({ ...log[i * 7] });
  }

  const databases: TestDatabase[] = [];
  const pools: Pool[] = [];

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await Promise.all(databases.map((db) => db.drop()));
  });

  async function project(batchSize: number): Promise<Record<string, string[]>> {
    const db = await createTestDatabase('writepaths');
    databases.push(db);
    const pool = createPgPool({ url: db.url, poolSize: 2, applicationName: 'test-write-paths' });
    pools.push(pool);
    const service = new ProjectionService(pool, schema, 20_000);
    const hooks = {
      heartbeat: () => Promise.resolve(),
      isRunning: () => true,
      deadLetter: () => Promise.resolve(),
    };
    for (let start = 0; start < log.length; start += batchSize) {
      const messages = log
        .slice(start, start + batchSize)
        .map((message, i) => decodeMessage({ offset: String(start + i), ...message }));
      expect(messages.every((m) => m.kind === 'op')).toBe(true);
      await service.apply(
        { topic: 'write-paths', partition: 0, messages, lastOffset: messages.at(-1)!.offset },
        hooks,
      );
    }
    const state: Record<string, string[]> = {};
    for (const [table, sql] of Object.entries(TABLES)) {
      const { rows } = await pool.query(sql);
      state[table] = rows.map((row) => JSON.stringify(row));
    }
    return state;
  }

  it('one large batch and batches of 7 ops leave identical rows', async () => {
    const large = await project(log.length);
    const small = await project(7);
    for (const table of Object.keys(TABLES)) {
      expect({ table, rows: small[table] }).toEqual({ table, rows: large[table] });
    }
    // The workload reaches every table the large batch copies, with text that needs escaping.
    expect(large.records.length).toBeGreaterThan(64);
    expect(large.relations.length).toBeGreaterThan(64);
    expect(large.operations.length).toBeGreaterThan(1000);
    expect(large.rejected_operations.length).toBeGreaterThan(64);
    expect(large.operations.some((row) => row.includes('a\\\\b\\tc\\nd\\re\\"f'))).toBe(true);
    // The re-sent tail was recognised as duplicates both ways: the feed holds each op once.
    const feed = large.libraries
      .map((row) => JSON.parse(row) as { operations: string })
      .reduce((sum, row) => sum + Number(row.operations), 0);
    expect(feed).toBe(large.operations.length);
  }, 120_000);
});
