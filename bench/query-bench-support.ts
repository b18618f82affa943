import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { dieWithBench } from './child-processes';

/** Shared by the query benchmarks: free ports, child services, percentiles. */

export const REPO_DIST = join(__dirname, '..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Service {
  name: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `dist/apps/<app>/src/main.js` with `env` (and `nodeArgs` before the script, e.g.
 * --cpu-prof) and waits until /health/ready answers 200.
 */
export async function startService(
  app: string,
  port: number,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
  nodeArgs: string[] = [],
): Promise<Service> {
  const main = join(REPO_DIST, 'apps', app, 'src', 'main.js');
  const child = dieWithBench(
    spawn(process.execPath, [...nodeArgs, main], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${app} exited with ${child.exitCode}:\n${output.join('')}`);
    }
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${app} not ready within ${readyTimeoutMs} ms:\n${output.join('')}`);
    }
    await sleep(200);
  }
  return {
    name: app,
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Nearest-rank percentile of an unsorted sample (sorts a copy). */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = Float64Array.from(sample).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The part of autocannon's programmatic API the benchmarks use (the package ships no types). */
export interface AutocannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  requests?: { setupRequest?: (request: { path: string }) => { path: string } }[];
}
export interface AutocannonResult {
  non2xx: number;
  errors: number;
  timeouts: number;
}
export type AutocannonInstance = Promise<AutocannonResult> & {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void,
  ): void;
};
export const autocannon = createRequire(__filename)('autocannon') as (
  options: AutocannonOptions,
) => AutocannonInstance;

export function median(values: number[]): number {
  return percentile(values, 50);
}
