import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HEALTH_CLIENT_TIMEOUT_MS } from '../../support/client-timeouts';

/*
 * The three services as real child processes, so a test can SIGKILL them, restart them and
 * sample their memory. By default a child runs the TypeScript sources through
 * test/projector.child-register.js (what is on disk now, no build needed);
 * FAULT_RUNTIME=dist runs the compiled dist/apps/<app>/src/main.js instead (after `npm run build`).
 */

/** The repository: the nearest directory above this file with a package.json (dist/ has none). */
export const REPO_ROOT = repositoryRoot(__dirname);

function repositoryRoot(from: string): string {
  for (let directory = from; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'package.json'))) return directory;
    if (dirname(directory) === directory) throw new Error(`no package.json above ${from}`);
  }
}

export type ServiceKind = 'ingest' | 'projector' | 'query';

const PORT_VARIABLE: Record<ServiceKind, string> = {
  ingest: 'INGEST_PORT',
  projector: 'PROJECTOR_PORT',
  query: 'QUERY_PORT',
};
const HOST_VARIABLE: Record<ServiceKind, string> = {
  ingest: 'INGEST_HOST',
  projector: 'PROJECTOR_HOST',
  query: 'QUERY_HOST',
};

function entryArgs(kind: ServiceKind): string[] {
  if (process.env.FAULT_RUNTIME === 'dist') {
    const main = join(REPO_ROOT, 'dist', 'apps', kind, 'src', 'main.js');
    if (!existsSync(main)) {
      throw new Error(`FAULT_RUNTIME=dist but ${main} is missing: run \`npm run build\` first`);
    }
    const source = join(REPO_ROOT, 'apps', kind, 'src', 'main.ts');
    if (statSync(source).mtimeMs > statSync(main).mtimeMs) {
      throw new Error(
        `FAULT_RUNTIME=dist but ${main} is older than its source: run \`npm run build\``,
      );
    }
    return [main];
  }
  return ['-r', './test/projector.child-register.js', `apps/${kind}/src/main.ts`];
}

// eslint-disable-next-line no-control-regex -- terminal colour codes start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;
const LISTENING = /listening on http:\/\/[^:\s]+:(\d+)/;
const MAX_OUTPUT_LINES = 400;

export interface ServiceOptions {
  /** Label for logs and failure messages, e.g. "projector-2". */
  name?: string;
  /** Extra environment, on top of a minimal one (PATH, HOME). */
  env: Record<string, string>;
  /** How long to wait for "listening on" (default 60 s). */
  startTimeoutMs?: number;
}

/** One service process. */
export class ServiceProcess {
  readonly output: string[] = [];
  port = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly kind: ServiceKind,
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve({ code, signal });
      });
    });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().replace(ANSI, '').split('\n')) {
        if (line.trim() === '') continue;
        this.output.push(line);
        if (process.env.FAULT_LOGS) console.log(`[${this.name}] ${line}`);
      }
      if (this.output.length > MAX_OUTPUT_LINES)
        this.output.splice(0, this.output.length - MAX_OUTPUT_LINES);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  static async start(kind: ServiceKind, options: ServiceOptions): Promise<ServiceProcess> {
    const name = options.name ?? kind;
    const child = spawn(process.execPath, entryArgs(kind), {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NO_COLOR: '1',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
        [PORT_VARIABLE[kind]]: '0',
        [HOST_VARIABLE[kind]]: '127.0.0.1',
        // As the e2e global setup does for in-process services (API keys are not under test here).
        SYNC_AUTH_DISABLED: process.env.SYNC_AUTH_DISABLED ?? 'true',
        // For debugging a child, e.g. FAULT_CHILD_NODE_OPTIONS="--require ./my-probe.js".
        ...(process.env.FAULT_CHILD_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.FAULT_CHILD_NODE_OPTIONS }
          : {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(kind, name, child);
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    while (service.port === 0) {
      const found = service.output.map((line) => LISTENING.exec(line)).find((m) => m !== null);
      if (found) service.port = Number(found[1]);
      else if (service.exitInfo !== undefined) {
        throw new Error(
          `${name} exited during start-up (${JSON.stringify(service.exitInfo)}):\n${service.tail()}`,
        );
      } else if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `${name} did not listen within ${options.startTimeoutMs ?? 60_000} ms:\n${service.tail()}`,
        );
      } else await sleep(50);
    }
    return service;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Last lines of the process output, for failure messages. */
  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }

  /** SIGKILL: a crash, no shutdown hooks. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful shutdown), SIGKILL after timeoutMs. Returns how it ended. */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  /** Resident set size in bytes (from /proc), or undefined once the process is gone. */
  rssBytes(): number | undefined {
    return rssOf(this.pid);
  }

  /** GET a path of the service; resolves with status and text. */
  async get(
    path: string,
    timeoutMs = HEALTH_CLIENT_TIMEOUT_MS,
  ): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, text: await response.text() };
  }

  /** Waits until /health/ready answers 200. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited:\n${this.tail()}`);
      try {
        const { status, text } = await this.get('/health/ready');
        if (status === 200) return;
        last = `${status} ${text}`;
      } catch (error) {
        last = String(error);
      }
      await sleep(200);
    }
    throw new Error(
      `${this.name} not ready within ${timeoutMs} ms (last: ${last}):\n${this.tail()}`,
    );
  }

  /** One Prometheus sample by metric name and label subset (summed over matching series). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const { text } = await this.get('/metrics');
    return metricValue(text, name, labels);
  }
}

export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
