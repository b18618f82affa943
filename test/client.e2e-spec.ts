import { randomUUID } from 'node:crypto';
import {
  type RecordView,
  SyncApiError,
  SyncHttpTransport,
  SyncNetworkError,
  SyncNode,
} from '@sync/client';
import { FlakyTransport } from '@sync/client/testing';
import { runThreeNodes } from '../examples/three-nodes/scenario';
import { TRANSPORT_CLIENT_TIMEOUT_MS } from './support/client-timeouts';
import { type TestStack, startTestStack } from './support/test-stack';

/**
 * The client library against the real stack (ingest -> Kafka -> projector -> Postgres -> query),
 * started in-process on ports of its own: the three-node example, a re-send after a lost answer,
 * and the ingest's drift refusal.
 */
describe('client library against the real stack', () => {
  let stack: TestStack;
  let ingestUrl: string;
  let queryUrl: string;

  beforeAll(async () => {
    stack = await startTestStack('client');
    ({ ingestUrl, queryUrl } = stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  const transport = () =>
    new SyncHttpTransport({ ingestUrl, queryUrl, timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS });

  it('three nodes with skewed clocks converge on the server state (the example)', async () => {
    const report = await runThreeNodes({
      ingestUrl,
      queryUrl,
      transport: { timeoutMs: TRANSPORT_CLIENT_TIMEOUT_MS },
    });

    expect(report.identical).toBe(true);
    expect(report.matchesServer).toBe(true);
    expect(report.rejectedByServer).toBe(0);
    expect(report.refused).toEqual([expect.stringContaining('NOT_OWNER')]);
    expect(report.nodes.map((n) => n.pushed)).toEqual([12, 8, 7]);

    // What the edits mean, checked on the server's own answer.
    const { records, relations } = report.server;
    const byName = (model: string, field: string, value: string): RecordView | undefined =>
      records.find((r) => r.model === model && r.data[field] === value);
    expect(records.map((r) => r.model).sort()).toEqual(
      ['Location', 'Location', 'Object', 'Object', 'Tag', 'Tag', 'Tag', 'Tag'].sort(),
    );
    // Renamed by the phone; the same tag renamed on laptop and desktop at once ends up with one
    // of the two names everywhere, and the color only the desktop wrote.
    const work = byName('Tag', 'name', 'Work');
    expect(work).toBeDefined();
    const travel = records.find((r) => r.model === 'Tag' && r.data.color === '#17becf');
    expect(['trips', 'holidays']).toContain(travel?.data.name);
    // Deleted objects stay deleted, even the receipt the desktop edited after the laptop deleted it.
    expect(byName('Object', 'note', 'itinerary.pdf')).toBeUndefined();
    expect(
      records.some((r) => typeof r.data.note === 'string' && r.data.note.startsWith('receipt')),
    ).toBe(false);
    const sunset = byName('Object', 'note', 'sunset-edit.heic');
    expect(sunset?.data.favorite).toBe(true);
    const beach = byName('Object', 'note', 'beach.jpg');
    expect(byName('Location', 'name', 'Laptop SSD')?.data.available_capacity).toBe(128);
    // beach: family unlinked, work linked; sunset: favorites and work; links of deleted objects gone.
    const favorites = byName('Tag', 'name', 'favorites');
    expect(relations.map((r) => `${r.item}>${r.group}`).sort()).toEqual(
      [
        `${beach?.id}>${work?.id}`,
        `${sunset?.id}>${favorites?.id}`,
        `${sunset?.id}>${work?.id}`,
      ].sort(),
    );

    const status = await transport().status(report.libraryId);
    expect(status).toMatchObject({ records: 8, relations: 3, pending: 0, rejected: 0 });
  }, 120_000);

  it('re-sends a batch whose answer was lost without duplicating it', async () => {
    const libraryId = randomUUID();
    const flaky = new FlakyTransport(transport());
    const node = await SyncNode.open({ libraryId, transport: flaky });
    const tag = await node.create('Tag', { name: 'once' });
    await node.update('Tag', tag.recordId, { color: '#000' });
    const object = await node.create('Object', { note: 'x' });
    await node.link('TagOnObject', object.recordId, tag.recordId);

    flaky.failNextPush('lost-answer');
    await expect(node.sync()).rejects.toThrow(SyncNetworkError);
    expect(node.outbox()).toHaveLength(4);
    const report = await node.sync();
    expect(report).toMatchObject({ pushed: 4, rejectedByServer: [] });
    expect(node.outbox()).toEqual([]);
    expect(node.unconfirmed()).toEqual([]);

    // A new device pulls the feed from the start: every op exactly once.
    const other = await SyncNode.open({ libraryId, transport: transport() });
    const pulled = await other.pull();
    expect(pulled.pulled).toBe(4);
    expect(other.state()).toEqual(node.state());
    expect(await transport().serverState(libraryId)).toEqual(node.state());
    expect(await transport().status(libraryId)).toMatchObject({ rejected: 0, records: 2 });
  }, 60_000);

  it('surfaces TIMESTAMP_DRIFT from the ingest and keeps the ops queued', async () => {
    const node = await SyncNode.open({
      libraryId: randomUUID(),
      transport: transport(),
      now: () => Date.now() + 400_000,
    });
    const tag = await node.create('Tag', { name: 'from the future' });
    const error: unknown = await node.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncApiError);
    expect(error).toMatchObject({ status: 422, code: 'TIMESTAMP_DRIFT', attempts: 1 });
    expect(node.outbox()).toEqual([tag]);
  }, 30_000);
});
