import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scratchCache } from './faults/support/kafka-instances';
import { sleep } from './faults/support/services';
import { freePort } from './support/free-ports';
import { REPO_ROOT, portAnswers } from './support/infrastructure';
import { createTestDatabase } from './support/test-env';

/*
 * `npm start` (scripts/stack.sh) stops what it starts: SIGTERM sent to the script alone, as a
 * supervisor or `timeout` does, leaves no service and no Kafka behind. The stack runs on ports
 * of its own and a Kafka of its own (never the shared broker), in a scratch Kafka cache.
 */

jest.setTimeout(10 * 60 * 1000);

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // a zombie has exited; only its parent has not reaped it yet
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `root`, from /proc (pid → parent pid). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

describe('scripts/stack.sh', () => {
  let stack: ChildProcess | undefined;
  let cache: { dir: string; remove(): void } | undefined;
  let database: { drop(): Promise<void> } | undefined;
  const leftovers: number[] = [];

  afterAll(async () => {
    // only what this test started: the script's own processes and its Kafka
    for (const pid of leftovers.filter(alive)) process.kill(pid, 'SIGKILL');
    if (stack?.pid && alive(stack.pid)) process.kill(stack.pid, 'SIGKILL');
    cache?.remove();
    await database?.drop();
  });

  it('SIGTERM to the script stops all three services and the Kafka it started', async () => {
    const db = await createTestDatabase('stack');
    database = db;
    cache = await scratchCache();
    const ports = {
      INGEST_PORT: await freePort(),
      QUERY_PORT: await freePort(),
      PROJECTOR_PORT: await freePort(),
      KAFKA_PORT: await freePort(),
      KAFKA_CONTROLLER_PORT: await freePort(),
    };
    expect(new Set(Object.values(ports)).size).toBe(5);
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.KAFKA_BROKERS; // the script starts a Kafka of its own on KAFKA_PORT
    Object.assign(env, {
      KAFKA_CACHE_DIR: cache.dir,
      KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
      DATABASE_URL: db.url,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    });

    const output: string[] = [];
    stack = spawn('bash', [join(REPO_ROOT, 'scripts', 'stack.sh')], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      stack!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    stack.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    stack.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));

    const deadline = Date.now() + 8 * 60 * 1000;
    while (!output.join('').includes('Press Ctrl-C to stop everything')) {
      if (Date.now() > deadline || stack.exitCode !== null) {
        throw new Error(`the stack did not come up:\n${output.join('')}`);
      }
      await sleep(250);
    }
    for (const port of [ports.INGEST_PORT, ports.QUERY_PORT, ports.PROJECTOR_PORT]) {
      const response = await fetch(`http://127.0.0.1:${port}/health/live`);
      expect(response.status).toBe(200);
    }
    expect(await portAnswers('127.0.0.1', ports.KAFKA_PORT)).toBe(true);

    const kafkaPidFile = join(cache.dir, 'run', `broker-${ports.KAFKA_PORT}`, 'kafka.pid');
    expect(existsSync(kafkaPidFile)).toBe(true);
    const kafkaPid = Number(readFileSync(kafkaPidFile, 'utf8').trim());
    const children = descendants(stack.pid!);
    const services = children.filter((pid) =>
      /dist\/apps\/\w+\/src\/main\.js/.test(commandLine(pid)),
    );
    expect(services).toHaveLength(3);
    leftovers.push(kafkaPid, ...children);
    expect(alive(kafkaPid)).toBe(true);

    process.kill(stack.pid!, 'SIGTERM');
    const exit = await Promise.race([exited, sleep(90_000).then(() => 'still running')]);
    expect(exit).toMatchObject({ code: 143 });

    // every process the script started is gone, Kafka included, and every port is free again
    const left = [kafkaPid, ...children].filter(alive).map((pid) => `${pid} ${commandLine(pid)}`);
    expect(left).toEqual([]);
    for (const port of Object.values(ports)) {
      expect({ port, answers: await portAnswers('127.0.0.1', port) }).toEqual({
        port,
        answers: false,
      });
    }
    // eslint-disable-next-line no-control-regex -- the script's bold '[stack]' prefix
    expect(output.join('').replace(/\u001b\[[0-9;]*m/g, '')).toContain('[stack] stopped');
  });
});
