import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalStore, MemoryStore, SyncHttpTransport, SyncNode } from '@sync/client';
import { JsonFileStore, nodeFetch } from '@sync/client/node';
import { benchArgs } from './bench-args';

/**
 * The client side of bench/bootstrap.bench.ts, in its own process so that its peak RSS is the
 * client's alone: a fresh SyncNode either bootstraps from the snapshot or syncs the whole feed
 * from empty, then checks it holds what the library holds. Its store is a JsonFileStore in a
 * fresh temp directory (removed after; what a Node app keeps its replica in) or a MemoryStore
 * (which holds the stored replica in memory beside the node's own: the RSS of both).
 *
 *   node dist/bench/bootstrap-client.js <snapshot|sync> <queryUrl> <libraryId> <records> <relations>
 *     <file|memory> [pullPageSize]
 *
 * Prints one JSON line {ms, cpuMs, peakRssMb, records, relations, digest}; exits non-zero on any failure
 * (after the transport's usual retries), when sync() finds the state digest differs from the
 * server's, or when the counts differ from those expected.
 */
function peakRssMb(): number {
  // VmHWM: the process's peak resident set so far (Linux).
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

const args = benchArgs({
  usage:
    'node dist/bench/bootstrap-client.js mode queryUrl libraryId records relations store [pullPageSize]',
  summary:
    'The client side of bench/bootstrap.bench.ts and bench/client-bootstrap.bench.ts, in its own\n' +
    'process: a fresh SyncNode bootstraps or syncs, checks what it holds and prints one JSON line.',
  options: {},
  args: {
    mode: {
      kind: 'text',
      choices: ['snapshot', 'sync'],
      description: 'snapshot: bootstrapFromSnapshot(); sync: sync() from empty',
    },
    queryUrl: { kind: 'text', description: 'where the query service (or a stand-in) answers' },
    libraryId: { kind: 'text', description: 'the library' },
    records: { kind: 'integer', zero: true, description: 'records the library holds' },
    relations: { kind: 'integer', zero: true, description: 'relations the library holds' },
    store: {
      kind: 'text',
      choices: ['file', 'memory'],
      description: 'file: a JsonFileStore in a fresh temp directory; memory: a MemoryStore',
    },
    pullPageSize: { kind: 'integer', optional: true, description: "the node's pullPageSize" },
  },
});

async function main(): Promise<void> {
  const { mode, queryUrl, libraryId, records, relations, store: storeKind, pullPageSize } = args;
  let store: LocalStore;
  let directory: string | undefined;
  if (storeKind === 'file') {
    directory = await mkdtemp(join(tmpdir(), 'bench-bootstrap-client-'));
    store = new JsonFileStore(directory);
  } else store = new MemoryStore();
  const transport = new SyncHttpTransport({
    // Never used: the node has nothing to push.
    ingestUrl: 'http://127.0.0.1:9',
    queryUrl,
    // The default retries, as an app has them: on a loaded machine a keep-alive socket the
    // server closed while the client was busy merging is reused now and then.
    timeoutMs: 120_000,
    // What a Node app passes for large libraries (libs/client README).
    fetch: nodeFetch,
  });
  try {
    await run(mode, transport, libraryId, store, records, relations, pullPageSize);
  } finally {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  }
}

async function run(
  mode: string,
  transport: SyncHttpTransport,
  libraryId: string,
  store: LocalStore,
  records: number,
  relations: number,
  pullPageSize: number | undefined,
): Promise<void> {
  const started = performance.now();
  const node = await SyncNode.open({
    libraryId,
    transport,
    store,
    ...(pullPageSize === undefined ? {} : { pullPageSize }),
  });
  if (mode === 'snapshot') await node.bootstrapFromSnapshot();
  else if (mode === 'sync') {
    const report = await node.sync();
    if (report.verified === false) throw new Error('the state digest differs from the server');
  } else throw new Error(`unknown mode ${mode}`);
  await node.flush();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage();
  const peak = peakRssMb();
  const state = node.confirmedState();
  const result = {
    ms,
    // The process's CPU time (user + system, startup included): steadier than `ms` on a busy
    // machine.
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: peak,
    records: state.records.length,
    relations: state.relations.length,
    // After the peak was read: what the caller compares with the library's digest.
    digest: node.digest().digest,
  };
  console.log(JSON.stringify(result));
  if (result.records !== records || result.relations !== relations) {
    throw new Error(`expected ${records} records and ${relations} relations`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
