import { randomUUID } from 'node:crypto';
import {
  LocalRejectionError,
  type MaterializedState,
  SyncHttpTransport,
  type SyncHttpTransportOptions,
  SyncNode,
} from '@sync/client';

/*
 * Three devices edit one library offline with skewed clocks, then sync in rounds through the
 * service. Used by three-nodes.ts (against a running stack) and by test/client.e2e-spec.ts
 * (against a stack started in-process).
 */

export interface ThreeNodesOptions {
  ingestUrl: string;
  queryUrl: string;
  /** Default: a new random library. */
  libraryId?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Extra transport settings (timeouts, retries). */
  transport?: Partial<SyncHttpTransportOptions>;
}

export interface NodeSummary {
  name: string;
  nodeId: string;
  skewMs: number;
  pushed: number;
  records: number;
  relations: number;
}

export interface ThreeNodesReport {
  libraryId: string;
  nodes: NodeSummary[];
  /** All three local states are deep-equal. */
  identical: boolean;
  /** Each local state equals GET /records + /relations read with minOffset. */
  matchesServer: boolean;
  /** The offset the server state was read at (read-your-writes). */
  minOffset: string | null;
  server: MaterializedState;
  /** Local state of the first node (equal to the others when `identical`). */
  local: MaterializedState;
  /** Edits the nodes refused locally, as "node: reason". */
  refused: string[];
  /** Own ops the server rejected (should be none). */
  rejectedByServer: number;
}

const DEVICES = [
  { name: 'laptop', skewMs: -90_000 },
  { name: 'desktop', skewMs: 0 },
  { name: 'phone', skewMs: 120_000 },
] as const;

export async function runThreeNodes(options: ThreeNodesOptions): Promise<ThreeNodesReport> {
  const libraryId = options.libraryId ?? randomUUID();
  const log = options.log ?? (() => undefined);
  const transport = () =>
    new SyncHttpTransport({
      ingestUrl: options.ingestUrl,
      queryUrl: options.queryUrl,
      ...options.transport,
    });
  const nodes = await Promise.all(
    DEVICES.map((d) =>
      SyncNode.open({ libraryId, transport: transport(), now: () => Date.now() + d.skewMs }),
    ),
  );
  const [laptop, desktop, phone] = nodes;
  const pushed = new Map(nodes.map((n) => [n, 0]));
  const refused: string[] = [];
  let rejectedByServer = 0;

  const syncRound = async (label: string, order: SyncNode[]) => {
    for (const node of order) {
      const report = await node.sync();
      pushed.set(node, (pushed.get(node) ?? 0) + report.pushed);
      rejectedByServer += report.rejectedByServer.length;
      const name = DEVICES[nodes.indexOf(node)].name;
      log(
        `${label}: ${name} pushed ${report.pushed}, pulled ${report.pulled} (${report.applied} new), cursor ${report.cursor}`,
      );
    }
  };

  // Round 1, everyone offline: each device creates its own things.
  const work = await laptop.create('Tag', { name: 'work', color: '#1f77b4' });
  const family = await laptop.create('Tag', { name: 'family' });
  const beach = await laptop.create('Object', { note: 'beach.jpg', kind: 5 });
  const receipt = await laptop.create('Object', { note: 'receipt.pdf', kind: 1 });
  await laptop.link('TagOnObject', beach.recordId, family.recordId, {
    date_created: '2024-05-01T10:00:00Z',
  });
  await laptop.link('TagOnObject', receipt.recordId, work.recordId);
  const ssd = await laptop.create('Location', {
    name: 'Laptop SSD',
    path: '/',
    total_capacity: 512,
  });

  const travel = await desktop.create('Tag', { name: 'travel', color: '#2ca02c' });
  const itinerary = await desktop.create('Object', { note: 'itinerary.pdf', kind: 1 });
  await desktop.link('TagOnObject', itinerary.recordId, travel.recordId);
  await desktop.create('Location', { name: 'NAS', path: '/mnt/nas', total_capacity: 8000 });

  const favorites = await phone.create('Tag', { name: 'favorites', color: '#d62728' });
  const sunset = await phone.create('Object', { note: 'sunset.heic', kind: 5 });
  await phone.link('TagOnObject', sunset.recordId, favorites.recordId);

  await syncRound('round 1', [laptop, desktop, phone]);
  await syncRound('round 1b', [laptop, desktop]);

  // Round 2, offline again: concurrent edits of shared records, a delete, an unlink.
  await laptop.update('Tag', travel.recordId, { name: 'trips' });
  await laptop.update('Object', sunset.recordId, { favorite: true });
  await laptop.link('TagOnObject', sunset.recordId, work.recordId);
  await laptop.update('Location', ssd.recordId, { available_capacity: 128 });
  await laptop.delete('Object', receipt.recordId);

  await desktop.update('Tag', travel.recordId, { name: 'holidays', color: '#17becf' });
  await desktop.delete('Object', itinerary.recordId);
  await desktop.update('Object', receipt.recordId, { note: 'receipt-2024.pdf' });
  try {
    await desktop.update('Location', ssd.recordId, { name: 'mine now' });
  } catch (error) {
    if (!(error instanceof LocalRejectionError)) throw error;
    refused.push(`desktop renaming the laptop's Location: ${error.reason}`);
  }

  await phone.unlink('TagOnObject', beach.recordId, family.recordId);
  await phone.link('TagOnObject', beach.recordId, work.recordId);
  await phone.update('Tag', work.recordId, { name: 'Work' });
  await phone.update('Object', sunset.recordId, { note: 'sunset-edit.heic' });

  await syncRound('round 2', [phone, laptop, desktop]);
  // Round 3: everyone catches up with what the others pushed after them.
  await syncRound('round 3', [phone, laptop, desktop]);

  const states = nodes.map((n) => n.state());
  const identical = states.every((s) => sameState(s, states[0]));
  const cursors = nodes
    .map((n) => n.pulledThrough)
    .filter((c): c is string => c !== null)
    .map(BigInt);
  const minOffset = cursors.length === 0 ? undefined : cursors.reduce((a, b) => (a > b ? a : b));
  const server = await transport().serverState(libraryId, { minOffset });
  const matchesServer = states.every((s) => sameState(s, server));

  return {
    libraryId,
    nodes: nodes.map((n, i) => ({
      name: DEVICES[i].name,
      nodeId: n.nodeId,
      skewMs: DEVICES[i].skewMs,
      pushed: pushed.get(n) ?? 0,
      records: states[i].records.length,
      relations: states[i].relations.length,
    })),
    identical,
    matchesServer,
    minOffset: minOffset === undefined ? null : minOffset.toString(),
    server,
    local: states[0],
    refused,
    rejectedByServer,
  };
}

/** Key order does not matter: compare canonical JSON. */
function sameState(a: MaterializedState, b: MaterializedState): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
    .join(',')}}`;
}

export function formatReport(report: ThreeNodesReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  const rows = report.nodes.map(
    (n) =>
      `  ${n.name.padEnd(8)} ${`${n.skewMs > 0 ? '+' : ''}${n.skewMs / 1000} s`.padStart(7)}  ${String(n.pushed).padStart(10)}  ${String(n.records).padStart(7)}  ${String(n.relations).padStart(9)}`,
  );
  return [
    `library ${report.libraryId}`,
    `  node       clock  ops pushed  records  relations`,
    ...rows,
    `  server            ${''.padStart(10)}  ${String(report.server.records.length).padStart(7)}  ${String(report.server.relations.length).padStart(9)}`,
    `local states identical:      ${yes(report.identical)}`,
    `equal to the server's state: ${yes(report.matchesServer)} (GET /records and /relations, minOffset=${report.minOffset ?? '-'})`,
    `refused locally:             ${report.refused.length === 0 ? 'none' : report.refused.join('; ')}`,
    `rejected by the server:      ${report.rejectedByServer}`,
  ].join('\n');
}
