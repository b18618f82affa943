import { readFileSync } from 'node:fs';
import { MemoryStore, SyncHttpTransport, SyncNode } from '@sync/client';

/**
 * The client side of bench/bootstrap.bench.ts, in its own process so that its peak RSS is the
 * client's alone: a fresh SyncNode on a MemoryStore either bootstraps from the snapshot or
 * syncs the whole feed from empty, then checks it holds what the library holds.
 *
 *   node dist/bench/bootstrap-client.js <snapshot|sync> <queryUrl> <libraryId> <records> <relations>
 *     [pullPageSize]
 *
 * Prints one JSON line {ms, peakRssMb, records, relations}; exits non-zero on any failure (after
 * the transport's usual retries) or when the counts differ from those expected.
 */
function peakRssMb(): number {
  // VmHWM: the process's peak resident set so far (Linux).
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const [mode, queryUrl, libraryId, records, relations, pullPageSize] = process.argv.slice(2);
  const transport = new SyncHttpTransport({
    // Never used: the node has nothing to push.
    ingestUrl: 'http://127.0.0.1:9',
    queryUrl,
    // The default retries, as an app has them: on a loaded machine a keep-alive socket the
    // server closed while the client was busy merging is reused now and then.
    timeoutMs: 120_000,
  });
  const started = performance.now();
  const node = await SyncNode.open({
    libraryId,
    transport,
    store: new MemoryStore(),
    ...(pullPageSize === undefined ? {} : { pullPageSize: Number(pullPageSize) }),
  });
  if (mode === 'snapshot') await node.bootstrapFromSnapshot();
  else if (mode === 'sync') await node.sync();
  else throw new Error(`unknown mode ${mode}`);
  await node.flush();
  const ms = performance.now() - started;
  const peak = peakRssMb();
  const state = node.confirmedState();
  const result = {
    ms,
    peakRssMb: peak,
    records: state.records.length,
    relations: state.relations.length,
  };
  console.log(JSON.stringify(result));
  if (result.records !== Number(records) || result.relations !== Number(relations)) {
    throw new Error(`expected ${records} records and ${relations} relations`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
