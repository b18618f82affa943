import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPgPool } from '@sync/persistence';
import {
  type LoggedOperation,
  type Operation,
  defaultSchema,
  emptySlice,
  materializeSlice,
  mergeBatch,
} from '@sync/protocol';
import { supersededOffsets } from '@sync/protocol';
import { SyncHttpTransport, SyncNode } from '../libs/client/src';
import { TRANSPORT_CLIENT_TIMEOUT_MS } from './support/client-timeouts';
import { type Pipeline, op, readFeed, startPipeline } from './snapshot-fixtures';

const ROOT = path.join(__dirname, '..');
const schema = defaultSchema();

type FeedEntry = { offset: string; operation: Record<string, unknown> };

/** Runs the CLI's TypeScript entry point as a real child process. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/projector.child-register.js', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end('');
  });
}

function logged(entries: FeedEntry[]): LoggedOperation[] {
  return entries.map((e) => ({
    offset: BigInt(e.offset),
    op: e.operation as unknown as Operation,
  }));
}

interface CompactSummary {
  libraryId: string;
  horizon: string;
  previousHorizon: string;
  scanned: number;
  superseded: number;
  removed: number;
  nodes?: { node: string; pulledThrough: string | null; idle: boolean }[];
}

describe('op-log retention: compaction, 410 SNAPSHOT_REQUIRED, re-bootstrap (real Kafka and Postgres)', () => {
  let p: Pipeline;
  let pool: Pool;
  let env: Record<string, string>;

  beforeAll(async () => {
    p = await startPipeline('retention');
    pool = createPgPool({
      url: p.env.DATABASE_URL,
      poolSize: 2,
      applicationName: 'retention-test',
    });
    env = { DATABASE_URL: p.env.DATABASE_URL };
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await p?.close();
  });

  const node = (libraryId: string, nodeId: string) =>
    SyncNode.open({
      libraryId,
      nodeId,
      transport: new SyncHttpTransport({
        ingestUrl: p.ingestUrl,
        queryUrl: p.queryUrl,
        timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS,
      }),
      readYourWritesWaitMs: 20_000,
    });

  async function compact(...args: string[]): Promise<CompactSummary[]> {
    const result = await cli(['compact', ...args, '--json'], env);
    if (result.code !== 0) throw new Error(`compact exited ${result.code}: ${result.stderr}`);
    expect(result.stderr).toContain('ops scanned');
    return JSON.parse(result.stdout) as CompactSummary[];
  }

  async function serverState(libraryId: string) {
    const records = await p.getJson<{ items: unknown[] }>(
      `/libraries/${libraryId}/records?limit=1000`,
    );
    const relations = await p.getJson<{ items: unknown[] }>(
      `/libraries/${libraryId}/relations?limit=1000`,
    );
    return { records: records.items, relations: relations.items };
  }

  it('help names the command and its database access', async () => {
    const help = await cli(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('compact [libraryId|--all]');
    expect(help.stdout).toContain('DATABASE_URL');
    expect((await cli(['compact'], env)).code).toBe(2);
    expect((await cli(['compact', randomUUID(), '--all'], env)).code).toBe(2);
  }, 60_000);

  it('drops exactly the superseded ops, keeps state, serves nodes past the horizon, re-bootstraps the others, and keeps D1', async () => {
    const lib = randomUUID();
    const [A, B, C, P] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const a = await node(lib, A);
    const b = await node(lib, B);
    const c = await node(lib, C);

    // Churn through node A: field rewrites, relation toggles, a deleted record with late edits.
    const tag = await a.create('Tag', { name: 'pets', color: 'red' });
    const object = await a.create('Object', { note: 'cat.jpg', favorite: true });
    const doomed = await a.create('Album', { name: 'summer' });
    await a.sync();
    // C pulls twice early: its reported position (the `after` of its last request) stays low.
    await c.sync();
    await a.update('Tag', tag.recordId, { color: 'blue' });
    await a.sync();
    await c.sync();
    for (let i = 0; i < 5; i++) {
      await a.update('Tag', tag.recordId, { name: `pets ${i}` });
      await a.update('Object', object.recordId, { note: `cat ${i}.jpg` });
      await a.link('TagOnObject', object.recordId, tag.recordId, {
        date_created: `2024-05-0${i + 1}T10:00:00Z`,
      });
      await a.unlink('TagOnObject', object.recordId, tag.recordId);
    }
    await a.link('TagOnObject', object.recordId, tag.recordId);
    await a.update('Album', doomed.recordId, { name: 'winter' });
    await a.delete('Album', doomed.recordId);
    await a.sync();
    // Raw ops of node P: a write that loses on arrival, and ops pending for a missing CREATE.
    const ghost = randomUUID();
    const stale = { ...op.update(P, tag.recordId, 'color', 'stale'), timestamp: { hybrid: '1' } };
    const posted = await p.post(lib, [
      stale,
      op.update(P, ghost, 'name', 'early'),
      op.update(P, ghost, 'name', 'later'),
    ]);
    // A and B report positions at the end, P through a raw pull.
    await a.update('Tag', tag.recordId, { color: 'green' });
    await a.sync();
    await b.sync();
    await b.sync();
    await a.sync();
    const full = await readFeed(p, lib, null, posted.lastOffset);
    const end = full[full.length - 1].offset;
    await p.getJson(`/libraries/${lib}/operations?after=${end}&node=${P}`);
    const cPosition = (
      await pool.query<{ pulled_through: string }>(
        `SELECT pulled_through FROM node_positions WHERE library_id = $1 AND node = $2`,
        [lib, C],
      )
    ).rows[0].pulled_through;
    expect(BigInt(cPosition)).toBeGreaterThan(-1n);
    expect(BigInt(c.pulledThrough as string)).toBeLessThan(BigInt(end));
    const stateBefore = await serverState(lib);
    expect(stateBefore).toEqual(
      materializeSlice(schema, mergeBatch(schema, emptySlice(), logged(full)).slice),
    );

    // A dry run changes nothing and counts what the node positions allow.
    const [dry] = await compact(lib, '--dry-run');
    expect(dry.removed).toBe(0);
    expect((await readFeed(p, lib, null)).length).toBe(full.length);
    const fullSlice = mergeBatch(schema, emptySlice(), logged(full)).slice;
    const byPositions = BigInt(cPosition) + 1n;
    expect(BigInt(dry.horizon)).toBe(byPositions);
    expect(dry.superseded).toBe(supersededOffsets(logged(full), fullSlice, byPositions).length);
    expect(dry.nodes?.map((n) => n.node).sort()).toEqual([A, B, C, P].sort());

    // Compact everything below the end of the log: C is now behind.
    const horizon = BigInt(end) + 1n;
    const [summary] = await compact(lib, '--before', horizon.toString());
    expect(BigInt(summary.horizon)).toBe(horizon);
    const expected = supersededOffsets(logged(full), fullSlice, horizon).map(String).sort();
    expect(expected.length).toBeGreaterThanOrEqual(15);
    expect(summary.removed).toBe(expected.length);
    const { rows } = await pool.query<{ log_offset: string }>(
      `SELECT log_offset FROM operations WHERE library_id = $1 AND operation IS NULL`,
      [lib],
    );
    expect(rows.map((r) => String(r.log_offset)).sort()).toEqual(expected);
    // Identities stay: every op of the full feed still has its row.
    const { rows: identities } = await pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM operations WHERE library_id = $1`,
      [lib],
    );
    expect(Number(identities[0].n)).toBe(full.length);
    // The kept ops (pending ones included) replay to the same state; the query service's state did not move.
    const kept = full.filter((e) => !expected.includes(e.offset));
    expect(materializeSlice(schema, mergeBatch(schema, emptySlice(), logged(kept)).slice)).toEqual(
      stateBefore,
    );
    expect(await serverState(lib)).toEqual(stateBefore);
    // A second run finds nothing more to drop.
    const [again] = await compact(lib, '--before', horizon.toString());
    expect(again.removed).toBe(0);
    expect(again.previousHorizon).toBe(horizon.toString());

    // (a) A node past the horizon pulls normally.
    await a.update('Tag', tag.recordId, { name: 'after compaction' });
    const aReport = await a.sync();
    expect(aReport.rebootstrap).toBeUndefined();
    const bReport = await b.sync();
    expect(bReport.rebootstrap).toBeUndefined();
    expect(b.state()).toEqual(await serverState(lib));

    // (b) Below the horizon: 410 SNAPSHOT_REQUIRED, and the node re-bootstraps and converges.
    const gone = await fetch(`${p.queryUrl}/libraries/${lib}/operations?after=${cPosition}`);
    expect(gone.status).toBe(410);
    const body = (await gone.json()) as { error: string; message: string; details: unknown[] };
    expect(body.error).toBe('SNAPSHOT_REQUIRED');
    expect(body.message).toContain(`/libraries/${lib}/snapshot`);
    expect(body.details).toEqual([
      {
        horizon: horizon.toString(),
        after: cPosition,
        snapshot: `/libraries/${lib}/snapshot?view=full`,
      },
    ]);
    expect((await fetch(`${p.queryUrl}/libraries/${lib}/operations`)).status).toBe(410);
    await c.update('Object', object.recordId, { favorite: false }); // queued locally, kept
    const cPull = await c.pull();
    expect(cPull.rebootstrap?.horizon).toBe(horizon.toString());
    expect(c.outbox()).toHaveLength(1);
    expect(c.record(object.recordId)?.data).toMatchObject({ favorite: false });
    await c.sync();
    await a.sync();
    const after = await serverState(lib);
    expect(c.state()).toEqual(after);
    expect(a.state()).toEqual(after);
    expect(after.records).toContainEqual(
      expect.objectContaining({
        id: object.recordId,
        data: expect.objectContaining({ favorite: false }),
      }),
    );
    // A fresh node starts from the snapshot on its own.
    const fresh = await node(lib, randomUUID());
    expect((await fresh.sync()).rebootstrap).toBeDefined();
    expect(fresh.state()).toEqual(after);

    // (c) A compacted op sent again is still a duplicate; changed content still a conflict.
    const compacted = full.find(
      (e) =>
        expected.includes(e.offset) &&
        e.operation.recordId === tag.recordId &&
        e.operation.field === 'name',
    ) as FeedEntry;
    expect(compacted).toBeDefined();
    const tail = (await readFeed(p, lib, end)).length;
    const resent = await p.post(lib, [compacted.operation]);
    const conflicting = await p.post(lib, [{ ...compacted.operation, value: 'other content' }]);
    const rejected = await p.getJson<{ items: { offset: string; reason: string }[] }>(
      `/libraries/${lib}/rejected?minOffset=${conflicting.lastOffset}&waitMs=20000`,
    );
    expect(rejected.items).toContainEqual(
      expect.objectContaining({ offset: conflicting.lastOffset, reason: 'DUPLICATE_CONFLICT' }),
    );
    expect(rejected.items.map((r) => r.offset)).not.toContain(resent.lastOffset);
    expect((await readFeed(p, lib, end)).length).toBe(tail);
    expect(await serverState(lib)).toEqual(after);
  }, 180_000);
});
