import { randomUUID } from 'node:crypto';
import { type Io, intOption, libraryArg } from './cli-args';
import { CliError, type SyncHttp } from './cli-http';
import { DEFAULT_DEMO, type DemoOptions, demoOperations } from './demo-library';

export const SEED_DEMO_USAGE = `  seed-demo [libraryId]          Create a demo library (devices with Locations, FilePaths,
                                 Objects, Tags, Albums, links) through the ingest, 1000 ops per
                                 batch, with progress; waits until it is applied
      --files <n> --objects <n> --tags <n> --albums <n> --nodes <n> --seed <n>`;

export const SEED_DEMO_OPTIONS = {
  files: { type: 'string' },
  objects: { type: 'string' },
  tags: { type: 'string' },
  albums: { type: 'string' },
  nodes: { type: 'string' },
  seed: { type: 'string' },
} as const;

export interface SeedDemoValues {
  files?: string;
  objects?: string;
  tags?: string;
  albums?: string;
  nodes?: string;
  seed?: string;
}

/** `seed-demo`: a demo library through the ingest, waiting until it is applied. */
export async function seedDemo(
  http: SyncHttp,
  args: string[],
  values: SeedDemoValues,
  io: Io,
): Promise<void> {
  const libraryId = libraryArg(args, false) ?? randomUUID();
  const options: DemoOptions = {
    files: intOption(values.files, 'files', DEFAULT_DEMO.files, 0, 10_000_000),
    objects: intOption(values.objects, 'objects', DEFAULT_DEMO.objects, 0, 10_000_000),
    tags: intOption(values.tags, 'tags', DEFAULT_DEMO.tags, 0, 100_000),
    albums: intOption(values.albums, 'albums', DEFAULT_DEMO.albums, 0, 100_000),
    nodes: intOption(values.nodes, 'nodes', DEFAULT_DEMO.nodes, 1, 100),
    seed: intOption(values.seed, 'seed', DEFAULT_DEMO.seed, 0, 2 ** 31),
  };
  io.progress(`seed-demo: library ${libraryId}`);
  const started = Date.now();
  let batch: unknown[] = [];
  let sent = 0;
  let lastOffset = '-1';
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await http.postOperations(libraryId, batch);
    sent += result.accepted;
    lastOffset = result.lastOffset;
    batch = [];
    const rate = Math.round(sent / Math.max(0.001, (Date.now() - started) / 1000));
    io.progress(`seed-demo: ${sent} ops sent (${rate} ops/s)`);
  };
  for (const op of demoOperations(options)) {
    batch.push(op);
    if (batch.length === 1000) await flush();
  }
  await flush();
  io.progress(`seed-demo: waiting until offset ${lastOffset} is applied`);
  let counts: { records: number; relations: number; pending: number; rejected: number } | null =
    null;
  for (let attempt = 0; counts === null && attempt < 12; attempt++) {
    counts = await http.getQueryOrNotYet(
      `/libraries/${libraryId}/status?minOffset=${lastOffset}&waitMs=10000`,
    );
  }
  if (counts === null)
    throw new CliError(
      `sent ${sent} ops, but offset ${lastOffset} was not applied within 2 minutes`,
    );
  io.out(
    `${JSON.stringify({ libraryId, operations: sent, lastOffset, records: counts.records, relations: counts.relations, pending: counts.pending, rejected: counts.rejected, seconds: (Date.now() - started) / 1000 })}\n`,
  );
}
