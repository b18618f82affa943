import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Runs bench/bootstrap.bench.ts in its --smoke mode (one 300-record library, every step once)
 * against the real Postgres, so the benchmark cannot rot: seeding through the projector's
 * writer, every request, the client child processes and the table must all still work.
 * The benchmark runs built code (it starts dist/apps/query and dist/bench/bootstrap-client):
 * `npm run build` first, as for every e2e run.
 */
const ROOT = join(__dirname, '..');
const BENCH = join(ROOT, 'dist', 'bench', 'bootstrap.bench.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BENCH, ...args],
      { cwd: ROOT, env: process.env, maxBuffer: 8 << 20, timeout: 110_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('bench/bootstrap.bench.ts --smoke', () => {
  it('seeds a library, measures every step and prints the table', async () => {
    expect(existsSync(BENCH)).toBe(true);
    const { code, stdout, stderr } = await run(['--smoke', '--feed-page', '20000']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const step of [
      'raw COPY of the snapshot rows',
      'GET /snapshot',
      'GET /snapshot?order=none, gzip',
      'GET /snapshot?order=none&clocks=compact, gzip',
      'raw COPY of the op rows',
      'feed pull, limit=1000',
      'feed pull, limit=20000 (NDJSON)',
      'client bootstrapFromSnapshot()',
      'client sync() from empty',
    ]) {
      expect(stdout).toMatch(
        new RegExp(`\\| 300 \\| ${step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    }
  });

  it('fails loudly (non-zero exit) when a request fails', async () => {
    // A feed page over the NDJSON form's limit: the service answers 400.
    const { code, stderr } = await run(['--smoke', '--feed-page', '1000000000']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/GET .*operations.*: 400 .*INVALID_PARAMETER/);
  });
});
