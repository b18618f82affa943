import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { partitionForLibrary } from '@sync/kafka';
import {
  type ReferenceState,
  type WireOp,
  identityOf,
  referenceSchema,
  referenceState,
  stableJson,
} from '../../support/reference-model';
import { QUERY_READ_CLIENT_TIMEOUT_MS } from '../../support/client-timeouts';
import type { FaultTopics } from './environment';
import type { Ledger } from './load';
import { REPO_ROOT, sleep } from './services';

/*
 * The checks behind "nothing lost, nothing doubled": once the projector has caught up with the
 * topic, the database must hold exactly what the reference model computes from the acknowledged
 * ops, the op log must hold each acknowledged op once (and nothing that was refused), the
 * positions must equal the topic's end, and the query service must show the expected state.
 */

const ref = referenceSchema();

export interface VerifyInput {
  scenario: string;
  databaseUrl: string;
  brokers: string[];
  topics: Pick<FaultTopics, 'operationsTopic' | 'deadLetterTopic' | 'partitions'>;
  ledger: Ledger;
  /** Base URL of a query service on the same database. */
  queryUrl: string;
  /** Acknowledged ops sent some other way (straight to Kafka), by library, in log order. */
  extraLog?: Map<string, WireOp[]>;
  /** Dead letters the topic should hold (default 0); 'skip' when the caller checks them. */
  deadLetters?: number | 'skip';
  /** Libraries the caller checks itself (left out of every check here). */
  ignoreLibraries?: Set<string>;
  catchUpTimeoutMs?: number;
}

export interface VerifyReport {
  scenario: string;
  libraries: number;
  /** Distinct ops acknowledged (202), i.e. expected in the op log. */
  acknowledged: number;
  /** Ops sent in requests that got a non-2xx answer (and were not acknowledged otherwise). */
  refused: number;
  /** Rows in the op log. */
  applied: number;
  /** Identities the op log holds more than once. */
  duplicates: number;
  /** Acknowledged ops missing from the op log. */
  losses: number;
  /** Op log rows that were never acknowledged (e.g. ops of a refused request). */
  phantoms: number;
  /** Exact re-sends absorbed as duplicates (D1). */
  resends: number;
  records: number;
  relations: number;
  pending: number;
  problems: string[];
}

/**
 * Past the last acknowledged op of each partition. Ingest answers 202 once its transaction is
 * committed, but the commit markers reach the partitions a little later; until then the topic's
 * end as a read_committed reader sees it (the stable offset) stops short of those ops.
 */
function acknowledgedEnds(ledger: Ledger | undefined): Map<number, bigint> {
  const ends = new Map<number, bigint>();
  for (const batch of ledger?.batches ?? []) {
    if (batch.status !== 202 || batch.partition === undefined || batch.lastOffset === undefined) {
      continue;
    }
    const end = batch.lastOffset + 1n;
    if (end > (ends.get(batch.partition) ?? 0n)) ends.set(batch.partition, end);
  }
  return ends;
}

/** Position of every partition vs the topic's end; resolves once the projector has caught up. */
export async function waitForCatchUp(
  input: Pick<VerifyInput, 'brokers' | 'topics' | 'databaseUrl'> & { ledger?: Ledger },
  timeoutMs = 120_000,
): Promise<Map<number, bigint>> {
  const acknowledged = acknowledgedEnds(input.ledger);
  const kafka = new Kafka({
    clientId: 'fault-verify',
    brokers: input.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const pool = new Pool({ connectionString: input.databaseUrl, max: 1 });
  pool.on('error', () => undefined);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  try {
    await admin.connect();
    for (;;) {
      try {
        const high = new Map(
          (await admin.fetchTopicOffsets(input.topics.operationsTopic)).map((o) => [
            o.partition,
            BigInt(o.high),
          ]),
        );
        const { rows } = await pool.query<{ partition: number; next_offset: string }>(
          'SELECT partition, next_offset FROM partition_offsets WHERE topic = $1',
          [input.topics.operationsTopic],
        );
        const positions = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
        const unsettled = [...acknowledged].filter(([p, end]) => (high.get(p) ?? 0n) < end);
        const behind = [...high].filter(([p, end]) => end > 0n && (positions.get(p) ?? 0n) < end);
        if (unsettled.length === 0 && behind.length === 0) return high;
        last = [
          ...unsettled.map(
            ([p, end]) => `p${p}: stable end ${high.get(p) ?? 0n} < acknowledged ${end}`,
          ),
          ...behind.map(([p, end]) => `p${p}: ${positions.get(p) ?? 0n}/${end}`),
        ].join(', ');
      } catch (error) {
        last = String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(`projector did not catch up within ${timeoutMs} ms (applied/end: ${last})`);
      }
      await sleep(250);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

export async function verifyPipeline(input: VerifyInput): Promise<VerifyReport> {
  const high = await waitForCatchUp(input, input.catchUpTimeoutMs ?? 180_000);
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < 60) problems.push(text);
  };

  // Expected state per library, from the acknowledged ops only.
  const libraries = new Set([...input.ledger.libraries, ...(input.extraLog?.keys() ?? [])]);
  const expected = new Map<string, ReferenceState>();
  const ackedIn = new Map<string, { first: bigint; last: bigint }[]>();
  let refused = 0;
  for (const library of libraries) {
    const log = [...input.ledger.acknowledged(library), ...(input.extraLog?.get(library) ?? [])];
    expected.set(library, referenceState(ref, log));
    const acked = new Set(log.map(identityOf));
    const refusedHere = new Set<string>();
    for (const batch of input.ledger.batchesOf(library)) {
      if (batch.status !== 202) {
        for (const op of batch.ops) if (!acked.has(identityOf(op))) refusedHere.add(identityOf(op));
        continue;
      }
      const partition = partitionForLibrary(library, input.topics.partitions);
      if (batch.partition !== partition) {
        problem(
          `library ${library}: acknowledged on partition ${batch.partition}, its key hashes to ${partition}`,
        );
      }
      for (const op of batch.ops) {
        const ranges = ackedIn.get(`${library}/${identityOf(op)}`) ?? [];
        ranges.push({ first: batch.firstOffset!, last: batch.lastOffset! });
        ackedIn.set(`${library}/${identityOf(op)}`, ranges);
      }
    }
    refused += refusedHere.size;
  }

  const pool = new Pool({ connectionString: input.databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  let applied = 0;
  let duplicates = 0;
  let losses = 0;
  let phantoms = 0;
  const refusedStored: string[] = [];
  try {
    const { rows } = await pool.query<{
      library_id: string;
      node: string;
      hybrid: string;
      log_offset: string;
      operation: unknown;
    }>('SELECT library_id, node, hybrid::text AS hybrid, log_offset, operation FROM operations');
    applied = rows.filter((row) => !input.ignoreLibraries?.has(row.library_id)).length;
    const logged = new Map<string, Map<string, { offset: bigint; content: string }>>();
    for (const row of rows) {
      const byId = logged.get(row.library_id) ?? new Map();
      logged.set(row.library_id, byId);
      const identity = `${row.node}@${row.hybrid}`;
      if (byId.has(identity)) {
        duplicates++;
        problem(`library ${row.library_id}: op ${identity} is in the op log twice`);
      }
      byId.set(identity, { offset: BigInt(row.log_offset), content: stableJson(row.operation) });
    }
    for (const library of logged.keys()) {
      if (!libraries.has(library) && !input.ignoreLibraries?.has(library)) {
        phantoms += logged.get(library)!.size;
        problem(`library ${library}: in the op log, but nothing was acknowledged for it`);
      }
    }
    for (const library of libraries) {
      const want = expected.get(library)!;
      const have = logged.get(library) ?? new Map<string, { offset: bigint; content: string }>();
      for (const identity of want.feed) {
        const row = have.get(identity);
        if (row === undefined) {
          losses++;
          problem(`library ${library}: acknowledged op ${identity} is missing from the op log`);
          continue;
        }
        if (row.content !== want.feedContent.get(identity)) {
          problem(
            `library ${library}: op ${identity} stored as ${row.content}, sent as ${want.feedContent.get(identity)}`,
          );
        }
        const ranges = ackedIn.get(`${library}/${identity}`);
        if (ranges && !ranges.some((r) => row.offset >= r.first && row.offset <= r.last)) {
          problem(
            `library ${library}: op ${identity} is at offset ${row.offset}, outside every acknowledged range that holds it (${ranges.map((r) => `${r.first}-${r.last}`).join(', ')})`,
          );
        }
      }
      const feed = new Set(want.feed);
      const stored = new Set<string>();
      for (const identity of have.keys()) {
        if (!feed.has(identity)) {
          phantoms++;
          stored.add(identity);
          problem(`library ${library}: op ${identity} is in the op log but was never acknowledged`);
        }
      }
      // The requests behind such ops: what they were answered, and when.
      for (const batch of input.ledger.batchesOf(library)) {
        if (batch.status === 202) continue;
        const storedHere = batch.ops.filter((op) => stored.has(identityOf(op))).length;
        if (storedHere === 0) continue;
        refusedStored.push(
          `library ${library}: request sent ${new Date(batch.startedAt).toISOString()}, answered ${batch.status} ${batch.code ?? ''} after ${batch.endedAt - batch.startedAt} ms ("${batch.message ?? ''}"), yet ${storedHere} of its ${batch.ops.length} ops are in the op log`,
        );
      }
    }

    // Counters and rejections: exactly the ones the reference model expects (none for a valid
    // workload).
    const rejectedRows = await pool.query<{
      library_id: string;
      reason: string;
      operation: WireOp;
    }>('SELECT library_id, reason, operation FROM rejected_operations');
    const rejectedBy = new Map<string, string[]>();
    for (const row of rejectedRows.rows) {
      const list = rejectedBy.get(row.library_id) ?? [];
      list.push(`${identityOf(row.operation)}/${row.reason}`);
      rejectedBy.set(row.library_id, list);
    }
    for (const library of new Set([...libraries, ...rejectedBy.keys()])) {
      if (input.ignoreLibraries?.has(library)) continue;
      const want = (expected.get(library)?.rejected ?? [])
        .map((r) => `${r.identity}/${r.reason}`)
        .sort();
      const have = (rejectedBy.get(library) ?? []).sort();
      if (stableJson(want) !== stableJson(have)) {
        problem(
          `library ${library}: rejected ${stableJson(have.slice(0, 5))}${have.length > 5 ? '...' : ''}, expected ${stableJson(want.slice(0, 5))}${want.length > 5 ? '...' : ''}`,
        );
      }
    }
    const counters = await pool.query<{ library_id: string; operations: string; rejected: string }>(
      'SELECT library_id, operations, rejected FROM libraries',
    );
    for (const row of counters.rows) {
      if (input.ignoreLibraries?.has(row.library_id)) continue;
      const count = logged.get(row.library_id)?.size ?? 0;
      if (Number(row.operations) !== count) {
        problem(
          `library ${row.library_id}: libraries.operations = ${row.operations}, op log holds ${count}`,
        );
      }
      const rejectedCount = rejectedBy.get(row.library_id)?.length ?? 0;
      if (Number(row.rejected) !== rejectedCount) {
        problem(
          `library ${row.library_id}: libraries.rejected = ${row.rejected}, ${rejectedCount} rejected ops stored`,
        );
      }
    }
    const pendingRows = await pool.query<{ library_id: string; n: string }>(
      'SELECT library_id, count(*) AS n FROM pending_operations GROUP BY library_id',
    );
    const pendingBy = new Map(pendingRows.rows.map((r) => [r.library_id, Number(r.n)]));
    for (const library of libraries) {
      const want = expected.get(library)!.pending;
      if ((pendingBy.get(library) ?? 0) !== want) {
        problem(`library ${library}: ${pendingBy.get(library) ?? 0} pending ops, expected ${want}`);
      }
    }

    // Positions: exactly the end of every partition (nothing skipped, nothing applied twice).
    const positions = await pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM partition_offsets WHERE topic = $1',
      [input.topics.operationsTopic],
    );
    const stored = new Map(positions.rows.map((r) => [r.partition, BigInt(r.next_offset)]));
    for (const [partition, end] of high) {
      if (end > 0n && stored.get(partition) !== end) {
        problem(
          `partition ${partition}: stored position ${stored.get(partition)}, topic end ${end}`,
        );
      }
    }
  } finally {
    await pool.end();
  }

  const deadLetters = await topicMessageCount(input.brokers, input.topics.deadLetterTopic);
  if (input.deadLetters !== 'skip' && deadLetters !== (input.deadLetters ?? 0)) {
    problem(`dead-letter topic holds ${deadLetters} messages, expected ${input.deadLetters ?? 0}`);
  }

  // What the query service shows.
  let records = 0;
  let relations = 0;
  let pending = 0;
  let resends = 0;
  for (const library of libraries) {
    const want = expected.get(library)!;
    records += want.records.length;
    relations += want.relations.length;
    pending += want.pending;
    resends += want.duplicates;
    const haveRecords = await listAll(input.queryUrl, `/libraries/${library}/records`);
    diffById(
      `library ${library} records`,
      want.records,
      haveRecords as { id: string }[],
      (r) => r.id,
      problem,
    );
    const haveRelations = await listAll(input.queryUrl, `/libraries/${library}/relations`);
    diffById(
      `library ${library} relations`,
      want.relations,
      haveRelations as { relation: string; item: string; group: string }[],
      (r) => `${r.relation}/${r.item}/${r.group}`,
      problem,
    );
    const status = await getJson(input.queryUrl, `/libraries/${library}/status`);
    const wantStatus = {
      records: want.records.length,
      relations: want.relations.length,
      pending: want.pending,
      rejected: want.rejected.length,
    };
    const haveStatus = {
      records: status.records,
      relations: status.relations,
      pending: status.pending,
      rejected: status.rejected,
    };
    if (stableJson(haveStatus) !== stableJson(wantStatus)) {
      problem(
        `library ${library} status: ${stableJson(haveStatus)}, expected ${stableJson(wantStatus)}`,
      );
    }
  }

  const acknowledged = [...expected.values()].reduce((n, s) => n + s.feed.length, 0);
  if (refusedStored.length > 0) {
    problems.unshift(
      `${refusedStored.length} refused requests were stored anyway:`,
      ...refusedStored.slice(0, 10),
    );
  }
  return {
    scenario: input.scenario,
    libraries: libraries.size,
    acknowledged,
    refused,
    applied,
    duplicates,
    losses,
    phantoms,
    resends,
    records,
    relations,
    pending,
    problems,
  };
}

/** Fails the test with the first problems (never a 10,000-line dump). */
export function expectClean(report: VerifyReport): void {
  if (report.problems.length === 0) return;
  const shown = report.problems.slice(0, 25);
  throw new Error(
    `${report.scenario}: ${report.problems.length}${report.problems.length >= 60 ? '+' : ''} problems (losses ${report.losses}, phantoms ${report.phantoms}, duplicates ${report.duplicates}); first ${shown.length}:\n  ${shown.join('\n  ')}`,
  );
}

function diffById<T>(
  label: string,
  want: T[],
  have: T[],
  key: (item: T) => string,
  problem: (text: string) => void,
): void {
  const wanted = new Map(want.map((item) => [key(item), item]));
  const got = new Map(have.map((item) => [key(item), item]));
  let shown = 0;
  const show = (text: string) => {
    if (shown++ < 5) problem(`${label}: ${text}`);
  };
  for (const [id, item] of wanted) {
    const other = got.get(id);
    if (other === undefined) show(`missing ${id}, expected ${JSON.stringify(item)}`);
    else if (stableJson(other) !== stableJson(item)) {
      show(`${id} is ${JSON.stringify(other)}, expected ${JSON.stringify(item)}`);
    }
  }
  for (const [id, item] of got)
    if (!wanted.has(id)) show(`unexpected ${id}: ${JSON.stringify(item)}`);
  if (shown > 5) problem(`${label}: ... ${shown - 5} more differences`);
  // Order as the contract says (by id / by relation, item, group).
  const order = have.map(key);
  const sorted = [...order].sort();
  if (stableJson(order) !== stableJson(sorted) && shown === 0)
    problem(`${label}: not in key order`);
}

async function getJson(base: string, path: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${base}${path}`, {
      signal: AbortSignal.timeout(QUERY_READ_CLIENT_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as Record<string, unknown>;
    if (attempt >= 3 || response.status < 500)
      throw new Error(`GET ${path}: ${response.status} ${text}`);
    await sleep(500);
  }
}

/** Every item of a list endpoint, following nextCursor. */
export async function listAll(base: string, path: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const query = new URLSearchParams({ limit: '1000' });
    if (cursor !== null) query.set('cursor', cursor);
    const body = await getJson(base, `${path}?${query.toString()}`);
    items.push(...(body.items as unknown[]));
    cursor = body.nextCursor as string | null;
    if (cursor === null) return items;
  }
  throw new Error(`GET ${path}: more than 10,000 pages`);
}

/** Messages in a topic (sum of high watermarks minus low ones). */
export async function topicMessageCount(brokers: string[], topic: string): Promise<number> {
  const kafka = new Kafka({ clientId: 'fault-verify', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface ResultRow {
  scenario: string;
  scale: string;
  load: string;
  faults: string;
  /** Usually the VerifyReport itself. */
  counts: Pick<VerifyReport, 'acknowledged' | 'applied' | 'duplicates' | 'losses' | 'phantoms'>;
  seconds: number;
  extra?: Record<string, unknown>;
}

/** Prints the row and appends it to .cache/faults/results.jsonl (for docs/RELIABILITY.md). */
export function reportResult(row: ResultRow): void {
  const dir = process.env.FAULT_RESULTS_DIR ?? join(REPO_ROOT, '.cache', 'faults');
  mkdirSync(dir, { recursive: true });
  const { acknowledged, applied, duplicates, losses, phantoms } = row.counts;
  const counts = { acknowledged, applied, duplicates, losses, phantoms };
  const { counts: _, ...described } = row;
  const line = { ...described, ...counts, at: new Date().toISOString() };
  appendFileSync(join(dir, 'results.jsonl'), `${JSON.stringify(line)}\n`);
  console.log(
    `[faults] ${row.scenario} (${row.scale}): load ${row.load}; faults ${row.faults}; acknowledged ${acknowledged}, applied ${applied}, duplicates ${duplicates}, losses ${losses}, phantoms ${phantoms}; ${row.seconds.toFixed(1)} s${row.extra ? `; ${JSON.stringify(row.extra)}` : ''}`,
  );
}

export interface TopicMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Every message of a topic (read from the beginning up to the current end). */
export async function readTopic(
  brokers: string[],
  topic: string,
  timeoutMs = 30_000,
): Promise<TopicMessage[]> {
  const expected = await topicMessageCount(brokers, topic);
  const kafka = new Kafka({ clientId: 'fault-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `fault-reader-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 200,
  });
  const messages: TopicMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
        }
        messages.push({
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers,
        });
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (messages.length < expected && Date.now() < deadline) await sleep(100);
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
