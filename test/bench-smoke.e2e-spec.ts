import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Every benchmark's `--smoke` mode, run as the README says (built code, real Kafka and
 * Postgres), so that none can rot silently: each must exit 0 and print its figures as numbers.
 * They run at once to keep the file short; a smoke run measures nothing. Last, the command line:
 * `--help` and a bad option stop every benchmark before any work (bench/bench-args.ts).
 */

const DIST = path.join(__dirname, '..', 'dist', 'bench');

interface Run {
  code: number | null;
  output: string;
}

function smoke(bench: string): Promise<Run> {
  const script = path.join(DIST, `${bench}.bench.js`);
  if (!existsSync(script)) {
    return Promise.reject(new Error(`${script} is missing: run npm run build first`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--smoke'], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
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

describe('benchmarks, smoke mode (built code, real Kafka and Postgres)', () => {
  const benches = [
    'capacity',
    'ingest',
    'projector',
    'projector-batch-cost',
    'query',
    'query-visibility',
  ] as const;
  const runs = new Map<string, Run>();

  beforeAll(async () => {
    const results = await Promise.all(benches.map((bench) => smoke(bench)));
    benches.forEach((bench, i) => runs.set(bench, results[i]));
  }, 110_000);

  const run = (bench: (typeof benches)[number]): Run => {
    const result = runs.get(bench)!;
    expect({ bench, code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
      bench,
      code: 0,
      output: '',
    });
    expect(result.output).not.toMatch(/NaN|Infinity/);
    return result;
  };

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
