import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Every benchmark's `--smoke` mode (but bootstrap's: test/bootstrap-bench.e2e-spec.ts), run as
 * its header says (real Kafka and Postgres; built code: overload starts its services the way the
 * fault suite does, from the TypeScript sources), so that none can rot silently: each must exit 0 and print its figures as numbers. A smoke run measures nothing,
 * so they run at once, in two waves on the 2-core machine: six (35 to 55 s), then three (about
 * 20 s); nine at once took no less in all and left each run less time. Last, the command line:
 * `--help` and a bad option stop every benchmark before any work (bench/bench-args.ts).
 */

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'bench');

interface Run {
  code: number | null;
  output: string;
}

/** node's arguments that run `bench`: its built script. */
function script(bench: string): string[] {
  return [path.join(DIST, `${bench}.bench.js`)];
}

/**
 * Runs `bench --smoke`; it is in `unfinished` until its output has closed (until whatever it
 * spawned that holds its stderr is gone too). It leads a process group of its own (detached):
 * the services and clients it spawns stay in that group, for stop() to reach.
 */
function smoke(bench: string, unfinished: Set<ChildProcess>): Promise<Run> {
  const file = script(bench).at(-1)!;
  if (!existsSync(file)) {
    return Promise.reject(new Error(`${file} is missing: run npm run build first`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...script(bench), '--smoke'], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    unfinished.add(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => {
      unfinished.delete(child);
      reject(error);
    });
    child.on('close', (code) => {
      unfinished.delete(child);
      resolve({ code, output });
    });
  });
}

/** How long a benchmark has to stop and clean up after SIGTERM (bench/child-processes.ts: 10 s). */
const STOP_GRACE_MS = 15_000;

/**
 * Stops a smoke run that has not finished (its wave's timeout fired, or another run failed to
 * start): SIGTERM, on which the benchmark stops its children and removes its databases and
 * topics (bench/child-processes.ts); once it has exited, or after STOP_GRACE_MS, SIGKILL to its
 * whole process group, for whatever is left of it.
 */
async function stop(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.once('close', resolve));
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      exited,
      new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
  }
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // ESRCH: nothing of the group is left.
  }
  await closed;
}

/** A benchmark run with `args` on unreachable Kafka and Postgres: for paths that stop before any work. */
function commandLine(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = path.join(DIST, script);
  if (!existsSync(file)) {
    return Promise.reject(new Error(`${file} is missing: run npm run build first`));
  }
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      KAFKA_BROKERS: '127.0.0.1:1',
    };
    execFile(process.execPath, [file, ...args], { env, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        stdout,
        stderr,
      }),
    );
  });
}

/** The cells of the markdown table rows whose first cell matches `first`. */
function rows(output: string, first: RegExp): string[][] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('| '))
    .map((line) => line.slice(2, -2).split(' | '))
    .filter((cells) => first.test(cells[0]));
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * Runs `benches` in smoke mode at once (in beforeAll, within `timeoutMs`); returns the check
 * of one: it exited 0 (else its output is shown) and printed no NaN or Infinity. Whatever of
 * them has not finished when the beforeAll ends (its timeout fired) is stopped in afterAll.
 */
function smokeRuns<B extends string>(benches: readonly B[], timeoutMs: number): (bench: B) => Run {
  const runs = new Map<string, Run>();
  const unfinished = new Set<ChildProcess>();
  beforeAll(async () => {
    const results = await Promise.all(benches.map((bench) => smoke(bench, unfinished)));
    benches.forEach((bench, i) => runs.set(bench, results[i]));
  }, timeoutMs);
  afterAll(() => Promise.all([...unfinished].map(stop)), STOP_GRACE_MS + 10_000);
  return (bench) => {
    const result = runs.get(bench)!;
    expect({ bench, code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
      bench,
      code: 0,
      output: '',
    });
    expect(result.output).not.toMatch(/NaN|Infinity/);
    return result;
  };
}

describe('benchmarks, smoke mode (built code, real Kafka and Postgres)', () => {
  const run = smokeRuns(
    ['capacity', 'ingest', 'projector', 'projector-batch-cost', 'query', 'query-visibility'],
    110_000,
  );

  it('capacity: a row per step with rates, latencies, CPU per 1k ops and RSS; a headline', () => {
    const { output } = run('capacity');
    const steps = rows(output, /^\d+$/);
    expect(steps.length).toBeGreaterThanOrEqual(1);
    for (const [offered, achieved, ingest, visible, refused, ...cpuAndRss] of steps) {
      expect(Number(offered)).toBeGreaterThan(0);
      expect(Number(achieved)).toBeGreaterThan(0);
      for (const pair of [ingest, visible]) {
        expect(pair.split(' / ').every((v) => NUMBER.test(v))).toBe(true);
      }
      expect(refused).toMatch(/^\d+ \/ \d+$/);
      const [cpuIngest, cpuProjector, cpuQuery, cpuKafka, cpuPostgres, total, rss] = cpuAndRss;
      // Our own processes are always readable; Kafka and Postgres only when on this machine.
      for (const cpu of [cpuIngest, cpuProjector, cpuQuery]) expect(Number(cpu)).toBeGreaterThan(0);
      for (const cpu of [cpuKafka, cpuPostgres, total]) expect(cpu).toMatch(/^(\d+|n\/a)$/);
      const rssMiB = rss.split(' / ').map(Number);
      expect(rssMiB).toHaveLength(3);
      for (const mib of rssMiB) expect(mib).toBeGreaterThan(0);
    }
    expect(output).toMatch(/^headline: /m);
  });

  it('ingest: raw and HTTP rows for each batch size, with ops/s and CPU', () => {
    const { output } = run('ingest');
    const table = rows(output, /^(raw kafkajs|ingest HTTP)/);
    expect(table.map(([name, batch]) => `${name} ${batch}`).sort()).toEqual([
      'ingest HTTP (single-request) 1',
      'ingest HTTP (single-request) 100',
      'raw kafkajs (idempotent) 1',
      'raw kafkajs (idempotent) 100',
    ]);
    for (const [, , opsPerS, , p50, p99, cpu] of table) {
      expect(Number(opsPerS)).toBeGreaterThan(0);
      for (const value of [p50, p99, cpu]) expect(value).toMatch(NUMBER);
    }
  });

  it('projector: rates of the projector, naive and both COPY baselines, and the ratios', () => {
    const { output } = run('projector');
    for (const variant of ['projector x1', 'naive', 'COPY rows', 'COPY bytes']) {
      expect(output).toMatch(new RegExp(`^ {2}${variant}: [1-9]\\d* ops/s`, 'm'));
    }
    expect(output).toMatch(
      /^projector x1: \d+\.\dx naive; \d+\.\d\d of COPY rows; \d+\.\d\d of COPY bytes$/m,
    );
  });

  it('projector-batch-cost: node and postgres CPU per batch and per op, and batches/s', () => {
    const { output } = run('projector-batch-cost');
    const table = rows(output, /^\d+$/);
    expect(table).toHaveLength(1);
    const [ops, node, postgres, nodePerOp, postgresPerOp, batchesPerS] = table[0];
    expect(Number(ops)).toBe(6);
    expect(Number(node)).toBeGreaterThan(0);
    expect(Number(nodePerOp)).toBeGreaterThan(0);
    // Postgres's CPU is read from /proc: a number when the server runs on this machine.
    for (const value of [postgres, postgresPerOp]) expect(value).toMatch(/^(\d+|n\/a)$/);
    expect(Number(batchesPerS)).toBeGreaterThan(0);
  });

  it('query: every scenario at both concurrencies, with rates, latencies and CPU', () => {
    const { output } = run('query');
    const table = rows(output, /\(/);
    // Five scenarios (four record reads, one feed page) at 1 and at 2 connections.
    expect(table).toHaveLength(10);
    for (const [, conns, rps, p50, p90, p99, max, serviceCpu, postgresCpu] of table) {
      expect(Number(conns)).toBeGreaterThan(0);
      expect(Number(rps)).toBeGreaterThan(0);
      for (const value of [p50, p90, p99, max, serviceCpu, postgresCpu]) {
        expect(value).toMatch(NUMBER);
      }
    }
  });

  it('query-visibility: the three latency rows, measured batches and no failure', () => {
    const { output } = run('query-visibility');
    expect(output).toMatch(/[1-9]\d* batches measured after .* failures 0; refused \d+;/);
    const table = rows(output, /->/);
    expect(table.map(([name]) => name)).toEqual([
      'POST -> 202 (ingest)',
      '202 -> visible in query (minOffset read)',
      'POST -> visible',
    ]);
    for (const [, ...values] of table) {
      expect(values).toHaveLength(5);
      for (const value of values) expect(value).toMatch(NUMBER);
    }
  });
});

describe('benchmarks, smoke mode, second wave (after the first)', () => {
  const run = smokeRuns(['client-bootstrap', 'log-as-data', 'overload'], 90_000);

  it('client-bootstrap: a snapshot and a sync() run, with time, CPU, peak RSS and load', () => {
    const { output } = run('client-bootstrap');
    const header = '| records | client | run | time | CPU time | peak RSS | load (1/5/15) before |';
    expect(output).toContain(header);
    const table = rows(output.slice(output.indexOf(header)), /^[\d,]+$/);
    expect(table.map(([records, client, round]) => `${records} ${client} ${round}`)).toEqual([
      '300 snapshot 1',
      '300 sync 1',
    ]);
    for (const [, , , time, cpu, rss, load] of table) {
      for (const seconds of [time, cpu]) expect(seconds).toMatch(/^\d+\.\d\d s$/);
      expect(parseFloat(cpu)).toBeGreaterThan(0);
      expect(rss).toMatch(/^[1-9]\d* MB$/);
      expect(load).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/);
    }
  });

  it('log-as-data: both digests beside raw SQL, the asOf check, asOf pages and history', () => {
    const { output } = run('log-as-data');
    const rate = '\\d+ ms \\(([1-9]\\d*) rows/s, RSS \\+\\d+\\.\\d MB\\)';
    const round = new RegExp(
      `^round 1: digest (\\d+)\\+(\\d+) rows ${rate}; raw SQL\\+hash of the same rows \\d+ ms; ` +
        `digest\\?asOf=\\d+ (\\d+)\\+(\\d+) rows ${rate}$`,
      'm',
    ).exec(output);
    expect(round).not.toBeNull();
    const [, records, relations, , middleRecords, middleRelations] = round!.map(Number);
    // The whole state at the end; about half of it at the middle offset.
    expect(records).toBeGreaterThan(5000);
    expect(relations).toBeGreaterThan(0);
    expect(middleRecords).toBeGreaterThan(0);
    expect(middleRecords).toBeLessThan(records);
    expect(middleRelations).toBeLessThan(relations);
    expect(output).toMatch(/^check: digest\?asOf=\d+ equals the live digest \(\S+\)$/m);
    const ms = '\\d+\\.\\d+ ms';
    expect(output).toMatch(
      new RegExp(
        `^asOf=\\d+ page of 100 \\(walking on\\): records p50 ${ms} p99 ${ms}; ` +
          `relations p50 ${ms} p99 ${ms}; live records page p50 ${ms} p99 ${ms}$`,
        'm',
      ),
    );
    expect(output).toMatch(/^plan of the history key read: \S/m);
    expect(output).toMatch(
      new RegExp(
        `^history of a random record \\(20 sequential reads\\): p50 ${ms} p99 ${ms}; ` +
          `raw SQL over the key index p50 ${ms} p99 ${ms}$`,
        'm',
      ),
    );
  });

  it('overload: the three phases with rates, latencies, RSS and catch-up; a clean verifier', () => {
    const { output } = run('overload');
    const latency = /^[1-9]\d*: \d+ \/ \d+ \/ \d+$/;
    const share = /^(-|\d+\.\d % \/ \d+\.\d % \/ \d+\.\d %)$/;
    const phases = output
      .split('\n')
      .map((line) => line.split(' | '))
      .filter(([label]) => /^(capacity|baseline|overload) \(/.test(label));
    expect(phases.map(([label]) => label)).toEqual([
      'capacity (closed loop, 4 wide)',
      'baseline (1x, paced)',
      'overload (3x, paced)',
    ]);
    const sustainable = Number(phases[0][2]);
    expect(sustainable).toBeGreaterThan(0);
    expect(phases.map(([, offered]) => offered)).toEqual([
      'closed loop',
      String(sustainable),
      String(3 * sustainable),
    ]);
    for (const [, , admitted, admittedLatency, refused, retryAfter, rss, ...rest] of phases) {
      const [catchUp, in202, in429, loopDelay] = rest;
      expect(Number(admitted)).toBeGreaterThan(0);
      expect(admittedLatency).toMatch(latency);
      expect(refused === '-' || latency.test(refused)).toBe(true);
      expect(retryAfter).toMatch(/^(-|[1-9]\d*(,[1-9]\d*)*)$/);
      const rssMb = rss.split(' / ').map(Number);
      expect(rssMb).toHaveLength(3);
      for (const mb of rssMb) expect(mb).toBeGreaterThan(0);
      for (const value of [catchUp, loopDelay]) expect(value).toMatch(/^\d+$/);
      expect(in202).toMatch(share);
      expect(in202).not.toBe('-');
      expect(in429).toMatch(share);
    }
    const verifier =
      /^verifier: acknowledged (\d+), applied (\d+), duplicates 0, losses 0, refused ops \d+, refused but applied 0$/m.exec(
        output,
      );
    expect(verifier).not.toBeNull();
    expect(Number(verifier![1])).toBeGreaterThan(0);
    expect(verifier![2]).toBe(verifier![1]);
  });
});

describe('benchmarks, command line (stops before any work: no Kafka or Postgres needed)', () => {
  const scripts = [
    'bootstrap.bench.js',
    'capacity.bench.js',
    'client-bootstrap.bench.js',
    'ingest.bench.js',
    'log-as-data.bench.js',
    'overload.bench.js',
    'projector-batch-cost.bench.js',
    'projector.bench.js',
    'query-visibility.bench.js',
    'query.bench.js',
    'bootstrap-client.js',
  ];

  it('--help prints the usage on stdout and exits 0, for every benchmark', async () => {
    const results = await Promise.all(scripts.map((script) => commandLine(script, ['--help'])));
    results.forEach(({ code, stdout, stderr }, i) => {
      expect({ script: scripts[i], code, stderr }).toEqual({
        script: scripts[i],
        code: 0,
        stderr: '',
      });
      expect(stdout).toMatch(/^usage: node /);
      expect(stdout).toMatch(/^ {2}-h, --help +print this and exit$/m);
    });
    const ingest = results[scripts.indexOf('ingest.bench.js')].stdout;
    for (const option of ['--duration N', '--rounds N', '--batches N,...', '--smoke']) {
      expect(ingest).toContain(`  ${option} `);
    }
    // A long value: its description goes on the next line.
    expect(ingest).toContain('  --raw idempotent|transactional,...\n');
  }, 60_000);

  it('an unknown option exits 2 at once, naming the option on stderr above the usage', async () => {
    const { code, stdout, stderr } = await commandLine('ingest.bench.js', ['--round', '1']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^error: unknown option --round\n\nusage: node dist\/bench\/ingest\.bench\.js/,
    );
  });

  it('a value not of its kind, or a missing one, exits 2 naming the option', async () => {
    const [rounds, missing] = await Promise.all([
      commandLine('query.bench.js', ['--rounds', 'abc']),
      commandLine('capacity.bench.js', ['--smoke', '--rates']),
    ]);
    expect(rounds).toMatchObject({ code: 2, stdout: '' });
    expect(rounds.stderr).toMatch(/^error: --rounds: 'abc' is not a positive integer\n/);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/^error: --rates needs a value/);
  });

  it('a value not among its choices exits 2 naming the option and the choices', async () => {
    const raw = await commandLine('ingest.bench.js', ['--raw', 'bogus']);
    expect(raw).toMatchObject({ code: 2, stdout: '' });
    expect(raw.stderr).toMatch(/^error: --raw: 'bogus' is not one of idempotent, transactional\n/);
  });
});
