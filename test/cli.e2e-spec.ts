import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Pipeline, op, readFeed, startPipeline } from './snapshot-fixtures';

const ROOT = path.join(__dirname, '..');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI's TypeScript entry point as a real child process. */
function cli(
  args: string[],
  env: Record<string, string>,
  options: { stdin?: string; until?: (stdout: string) => boolean } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/projector.child-register.js', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.until?.(stdout)) child.kill('SIGINT');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

describe('CLI (real services, Kafka and Postgres)', () => {
  let p: Pipeline;
  let env: Record<string, string>;

  beforeAll(async () => {
    p = await startPipeline('cli');
    env = { SYNC_INGEST_URL: p.ingestUrl, SYNC_QUERY_URL: p.queryUrl };
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  it('prints help with exit 0, and usage errors with exit 2', async () => {
    const help = await cli(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('seed-demo');
    expect((await cli([], env)).code).toBe(2);
    const unknown = await cli(['frobnicate'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
    expect((await cli(['produce', 'not-a-uuid'], env)).code).toBe(2);
    expect((await cli(['status', '--bogus'], env)).code).toBe(2);
  }, 60_000);

  it('produce (file, REST), produce (stdin NDJSON, Kafka) and tail', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const [o, t] = [randomUUID(), randomUUID()];
    const viaRest = [
      op.create(A, o, 'Object', { note: 'a' }),
      op.create(A, t, 'Tag', { name: 'x' }),
    ];
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cli-')), 'ops.json');
    writeFileSync(file, JSON.stringify(viaRest));
    const rest = await cli(['produce', lib, file, '--batch', '1'], env);
    expect(rest.stderr).toContain('produce: 2/2 ops');
    expect(rest.code).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ accepted: 2, lastOffset: expect.any(String) });

    const viaKafka = [op.link(A, 'TagOnObject', o, t), op.update(A, t, 'color', 'red')];
    const kafka = await cli(
      ['produce', lib, '-', '--kafka'],
      {
        ...env,
        KAFKA_BROKERS: p.env.KAFKA_BROKERS,
        SYNC_TOPIC: p.topics.operationsTopic,
      },
      { stdin: viaKafka.map((x) => JSON.stringify(x)).join('\n') + '\n' },
    );
    expect(kafka.stderr).not.toContain('error');
    expect(kafka.code).toBe(0);
    const { lastOffset } = JSON.parse(kafka.stdout) as { lastOffset: string };
    const feed = await readFeed(p, lib, null, lastOffset);
    expect(feed.map((e) => e.operation)).toEqual([...viaRest, ...viaKafka]);

    const tailed = await cli(['tail', lib], env);
    expect(tailed.code).toBe(0);
    expect(
      tailed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual(feed);

    // --follow prints ops that arrive later, then stops on Ctrl-C.
    const late = op.update(A, o, 'note', 'late');
    const following = cli(['tail', lib, '--after', feed[feed.length - 1].offset, '--follow'], env, {
      until: (out) => out.includes('"late"'),
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await p.post(lib, [late]);
    const followed = await following;
    expect(
      followed.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { operation: unknown }).operation),
    ).toEqual([late]);

    const bad = await cli(['produce', lib, '-'], env, { stdin: '[{"type":"CREATE"}]' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('VALIDATION_FAILED');
  }, 90_000);

  it('seed-demo builds a realistic library that status reports', async () => {
    const lib = randomUUID();
    const seeded = await cli(['seed-demo', lib, '--files', '1500', '--objects', '1200'], env);
    expect(seeded.stderr).toMatch(/seed-demo: \d+ ops sent/);
    expect(seeded.code).toBe(0);
    const summary = JSON.parse(seeded.stdout) as Record<string, number>;
    expect(summary).toMatchObject({ libraryId: lib, rejected: 0, pending: 0 });
    // 2 locations + 25 tags + 12 albums + 1200 objects + 1500 file paths.
    expect(summary.records).toBe(2 + 25 + 12 + 1200 + 1500);
    expect(summary.relations).toBeGreaterThan(1000);
    expect(summary.operations).toBeGreaterThan(3000);

    const filePaths = await p.getJson<{ items: { data: Record<string, unknown> }[] }>(
      `/libraries/${lib}/records?model=FilePath&limit=5`,
    );
    expect(filePaths.items[0].data).toMatchObject({
      location: expect.any(String),
      object: expect.any(String),
      extension: expect.any(String),
    });

    const table = await cli(['status'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/library\s+part\s+applied\s+lag/);
    expect(table.stdout).toContain(lib);
    const json = await cli(['status', lib, '--json'], {
      ...env,
      KAFKA_BROKERS: p.env.KAFKA_BROKERS,
      SYNC_TOPIC: p.topics.operationsTopic,
    });
    expect(json.code).toBe(0);
    const [row] = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(row).toMatchObject({
      id: lib,
      records: summary.records,
      pending: 0,
      rejected: 0,
      lag: '0',
    });

    const down = await cli(['status'], { SYNC_QUERY_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('no answer');
  }, 120_000);
});
