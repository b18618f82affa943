import { type ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { cpus, loadavg, totalmem } from 'node:os';
import { DEFAULT_ADMISSION } from '../apps/ingest/src/ingest.config';
import { kafkaBrokers } from '../test/support/test-env';
import { Ledger } from '../test/faults/support/load';
import {
  type OverloadStack,
  type PhaseResult,
  runPhase,
  startOverloadStack,
  verifyOverload,
} from '../test/faults/support/overload';
import { FaultWorkload } from '../test/faults/support/workload';
import { benchArgs } from './bench-args';
import { cleanUpWithBench, dieWithBench } from './child-processes';

/**
 * Overload: the ingest (default admission bounds unless --max-inflight), projector and query as
 * child processes on real Kafka and Postgres. After a warm-up (not reported), three phases side
 * by side in one run:
 *   1. capacity: a closed loop as wide as the in-flight request bound, no refusals: the
 *      sustainable rate of this machine now;
 *   2. baseline: that rate, paced (what an admitted request costs without overload);
 *   3. overload: 3x that rate, paced, for --duration s; a refused device waits Retry-After plus
 *      jitter as the client library does, the others keep the offered rate.
 * Per phase: p50/p99/max of admitted and refused requests as the client saw them, the largest
 * RSS of each service, and how long the projector took to catch up once the load stopped. Then
 * the fault suite's verifier: every admitted op applied exactly once, no refused op applied.
 * Exits 1 on any answer other than 202 / 429 OVERLOADED or any verifier problem.
 *
 *   npm run build && DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
 *   KAFKA_BROKERS=127.0.0.1:9092 node dist/bench/overload.bench.js \
 *     [--duration 60] [--warmup 10] [--capacity 15] [--baseline 20] [--factor 3] [--libraries 200] [--batch 20]
 *     [--max-inflight N] [--smoke]   (`--help` lists them with their defaults)
 *
 * (Or from the sources: `node -r ./test/projector.child-register.js bench/overload.bench.ts`.
 * Either way the services start the way the fault suite starts them, from the TypeScript
 * sources, or from dist/ with FAULT_RUNTIME=dist.)
 * `--smoke` is every phase for a second or two, 8 devices against an in-flight bound of 4 (so the
 * overload phase is refused too), then the verifier: a check that every step still runs (CI,
 * test/bench-smoke.e2e-spec.ts), not a measurement.
 */
const args = benchArgs({
  usage: 'node dist/bench/overload.bench.js [options]',
  summary:
    'Overload: capacity, baseline and overload phases against ingest, projector and query\n' +
    "child processes, then the fault suite's verifier. Needs DATABASE_URL (a server URL).",
  options: {
    duration: {
      kind: 'number',
      description: 'seconds of the overload phase',
      default: 60,
      smoke: 2,
    },
    warmup: {
      kind: 'number',
      description: 'seconds of warm-up (not reported)',
      default: 10,
      smoke: 1,
    },
    capacity: {
      kind: 'number',
      description: 'seconds of the capacity phase',
      default: 15,
      smoke: 2,
    },
    baseline: {
      kind: 'number',
      description: 'seconds of the baseline phase',
      default: 20,
      smoke: 2,
    },
    factor: {
      kind: 'number',
      description: 'the overload phase offers this times the sustainable rate',
      default: 3,
    },
    libraries: {
      kind: 'integer',
      description: 'devices (libraries) of the paced phases',
      default: 200,
      smoke: 8,
    },
    batch: { kind: 'integer', description: 'ops per request', default: 20 },
    'max-inflight': {
      kind: 'integer',
      description: "the ingest's INGEST_MAX_INFLIGHT_REQUESTS; the capacity phase is this wide",
      default: DEFAULT_ADMISSION.maxRequests,
      smoke: 4,
    },
    smoke: {
      kind: 'flag',
      description: 'each phase 1-2 s, 8 devices, a bound of 4: a check, not a measurement',
    },
  },
});
const DURATION_S = args.duration;
const WARMUP_S = args.warmup;
const CAPACITY_S = args.capacity;
const BASELINE_S = args.baseline;
const FACTOR = args.factor;
const LIBRARIES = args.libraries;
const BATCH = args.batch;
/** INGEST_MAX_INFLIGHT_REQUESTS for the ingest; the capacity phase is this wide. */
const MAX_INFLIGHT = args['max-inflight'];

function row(result: PhaseResult): string {
  const a = result.admitted;
  const r = result.refused;
  const rss = ['ingest', 'projector', 'query'].map((k) => result.rssMb[k]).join(' / ');
  return [
    result.label,
    String(result.offeredOpsPerSecond),
    String(result.admittedOpsPerSecond),
    `${a.requests}: ${a.p50} / ${a.p99} / ${a.max}`,
    r.requests === 0 ? '-' : `${r.requests}: ${r.p50} / ${r.p99} / ${r.max}`,
    r.requests === 0 ? '-' : r.retryAfterSeconds.join(','),
    rss,
    String(result.catchUpMs),
    share(result.inService['202']),
    share(result.inService['429']),
    String(result.clientLoopDelayP99Ms),
  ].join(' | ');
}

function share(counts: PhaseResult['inService']['202']): string {
  if (counts.all === 0) return '-';
  const pct = (n: number) => `${((100 * n) / counts.all).toFixed(1)} %`;
  return `${pct(counts.within50ms)} / ${pct(counts.within250ms)} / ${pct(counts.within1s)}`;
}

async function main(): Promise<void> {
  if (!process.env.DATABASE_URL) throw new Error('set DATABASE_URL (a server URL)');
  // startOverloadStack (test/faults) hands its services over only once all are ready: each child
  // is registered as it is spawned (Node's `child_process` diagnostics channel), and the stack's
  // close() before start-up ends. On a signal during start-up the children stop, start-up fails
  // and closes what it opened itself (the cleanup waits for that); later, close() kills the
  // services, drops the database and deletes the topics, as on the normal path.
  const spawned = ({ process: child }: { process: ChildProcess }) => dieWithBench(child);
  subscribe('child_process', spawned as (message: unknown) => void);
  const starting = startOverloadStack({
    brokers: kafkaBrokers(),
    partitions: 6,
    ingestEnv: { INGEST_MAX_INFLIGHT_REQUESTS: String(MAX_INFLIGHT) },
  });
  const close = cleanUpWithBench(`the overload stack's services, database and topics`, () =>
    starting.then(
      (stack) => stack.close(),
      () => undefined,
    ),
  );
  let stack: OverloadStack;
  try {
    stack = await starting;
  } catch (error) {
    await close();
    throw error;
  } finally {
    unsubscribe('child_process', spawned as (message: unknown) => void);
  }
  const problems: string[] = [];
  try {
    const workload = new FaultWorkload({
      seed: 1414,
      libraries: LIBRARIES,
      recordsPerLibrary: 200,
    });
    const ledger = new Ledger();
    const results: PhaseResult[] = [];
    // Not reported: the children compile and connect, the JIT warms up.
    await runPhase(stack, workload, ledger, {
      label: 'warm-up',
      seconds: WARMUP_S,
      concurrency: MAX_INFLIGHT,
      batchSize: BATCH,
    });
    const capacity = await runPhase(stack, workload, ledger, {
      label: `capacity (closed loop, ${MAX_INFLIGHT} wide)`,
      seconds: CAPACITY_S,
      concurrency: MAX_INFLIGHT,
      batchSize: BATCH,
    });
    results.push(capacity);
    const sustainable = capacity.admittedOpsPerSecond;
    results.push(
      await runPhase(stack, workload, ledger, {
        label: 'baseline (1x, paced)',
        opsPerSecond: sustainable,
        seconds: BASELINE_S,
        concurrency: LIBRARIES,
        batchSize: BATCH,
      }),
    );
    results.push(
      await runPhase(stack, workload, ledger, {
        label: `overload (${FACTOR}x, paced)`,
        opsPerSecond: FACTOR * sustainable,
        seconds: DURATION_S,
        concurrency: LIBRARIES,
        batchSize: BATCH,
      }),
    );
    for (const result of results) {
      for (const answer of Object.keys(result.answers)) {
        if (answer !== '202' && answer !== '429 OVERLOADED') {
          problems.push(`${result.label}: ${result.answers[answer]} x ${answer}`);
        }
      }
      if (result.refused.withoutRetryAfter > 0) {
        problems.push(
          `${result.label}: ${result.refused.withoutRetryAfter} refusals without Retry-After`,
        );
      }
    }
    const report = await verifyOverload(stack, ledger);
    problems.push(...report.problems);

    console.log(
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')} at the end; ${new Date().toISOString()}`,
    );
    console.log(
      `batches of ${BATCH} ops, ${LIBRARIES} devices (libraries), INGEST_MAX_INFLIGHT_REQUESTS=${MAX_INFLIGHT}; latencies in ms as p50 / p99 / max`,
    );
    console.log(
      'phase | offered ops/s | admitted ops/s | admitted requests: latency | refused requests: latency | Retry-After (s) | max RSS MB ingest / projector / query | catch-up ms | in the ingest, 202 within 50 ms / 250 ms / 1 s | in the ingest, 429 within 50 ms / 250 ms / 1 s | bench process loop delay p99 ms',
    );
    for (const result of results) console.log(row(result));
    console.log(
      `verifier: acknowledged ${report.acknowledged}, applied ${report.applied}, duplicates ${report.duplicates}, losses ${report.losses}, refused ops ${report.refused}, refused but applied ${report.phantoms}`,
    );
  } finally {
    await close();
  }
  if (problems.length > 0) {
    console.error(`FAILED:\n${problems.join('\n')}`);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
