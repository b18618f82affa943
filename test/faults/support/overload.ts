import { createTestDatabase } from '../../support/test-env';
import {
  type FaultTopics,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  queryEnv,
} from './environment';
import { type BatchRecord, Ledger, startLoad } from './load';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ServiceProcess, metricValue, sleep } from './services';
import { type VerifyReport, verifyPipeline, waitForCatchUp } from './verify';
import type { FaultWorkload } from './workload';

/*
 * The overload run shared by the fault scenario (test/faults/overload.e2e-spec.ts, small) and the
 * benchmark (bench/overload.bench.ts, 60 s): the three services as child processes on their own
 * database and topics, load phases offered at a paced rate, and per phase the latency of admitted
 * and refused requests, the services' RSS and the time the projector needs to catch up.
 */

export interface OverloadStack {
  brokers: string[];
  topics: FaultTopics;
  databaseUrl: string;
  ingest: ServiceProcess;
  projector: ServiceProcess;
  query: ServiceProcess;
  /** Kills the services, drops the database and deletes the topics (once: a later call waits). */
  close(): Promise<void>;
}

export async function startOverloadStack(options: {
  brokers: string[];
  partitions: number;
  ingestEnv?: Record<string, string>;
  /** The topics' names start with this (default fault-overload). */
  topicPrefix?: string;
}): Promise<OverloadStack> {
  const { brokers } = options;
  const database = await createTestDatabase('fault_overload');
  let topics: FaultTopics | undefined;
  const services: ServiceProcess[] = [];
  let closing: Promise<void> | undefined;
  // Removes what there is by then: after a failed start-up too.
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(services.map((s) => s.kill()));
      const removals = await Promise.allSettled([
        database.drop(),
        ...(topics ? [deleteTopics(brokers, topics)] : []),
      ]);
      const failed = removals.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    })());
  try {
    const own = await createTopics(
      brokers,
      options.topicPrefix ?? 'fault-overload',
      options.partitions,
    );
    topics = own;
    // Every one that started is killed by close(), even when another did not start.
    const started = await Promise.allSettled([
      ServiceProcess.start('ingest', {
        env: ingestEnv(brokers, own, database.url, options.ingestEnv),
      }),
      ServiceProcess.start('projector', { env: projectorEnv(brokers, own, database.url) }),
      ServiceProcess.start('query', { env: queryEnv(brokers, own, database.url) }),
    ]);
    for (const result of started) if (result.status === 'fulfilled') services.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    await Promise.all(services.map((s) => s.ready()));
  } catch (error) {
    await close();
    throw error;
  }
  const [ingest, projector, query] = services;
  return { brokers, topics, databaseUrl: database.url, ingest, projector, query, close };
}

export interface PhaseOptions {
  label: string;
  /** Offered rate; undefined = closed loop (each worker sends as soon as it has an answer). */
  opsPerSecond?: number;
  seconds: number;
  concurrency: number;
  batchSize: number;
}

export interface LatencySummary {
  requests: number;
  ops: number;
  p50: number;
  p99: number;
  max: number;
}

export interface PhaseResult {
  label: string;
  seconds: number;
  offeredOpsPerSecond: number | 'closed loop';
  /** Acknowledged ops per second over the phase. */
  admittedOpsPerSecond: number;
  admitted: LatencySummary;
  /** 429 OVERLOADED answers. */
  refused: LatencySummary & { retryAfterSeconds: number[]; withoutRetryAfter: number };
  /** Every answer by "status code". */
  answers: Record<string, number>;
  /** Largest RSS sampled during the phase and its catch-up, MB. */
  rssMb: Record<string, number>;
  /** From the end of the load until the projector had applied every message. */
  catchUpMs: number;
  /**
   * Inside the ingest (its own histogram, from routing to the answer, this phase only): answers
   * by status within 50 ms / 250 ms / 1 s / all. The client's times above also hold both
   * processes' scheduling on a shared machine.
   */
  inService: Record<
    '202' | '429',
    { within50ms: number; within250ms: number; within1s: number; within5s: number; all: number }
  >;
  /** Event loop delay p99 of the load-generating process itself, ms. */
  clientLoopDelayP99Ms: number;
}

/** The ingest's result label of each status the phases expect. */
const RESULTS = { '202': 'accepted', '429': 'OVERLOADED' } as const;

/**
 * Cumulative count of POSTs answered `status` within `le` seconds, from the ingest's own
 * histogram (routing, before the body is read, to the answer).
 */
async function answeredWithin(ingest: ServiceProcess): Promise<Map<string, number>> {
  const text = (await ingest.get('/metrics')).text;
  const counts = new Map<string, number>();
  for (const [status, result] of Object.entries(RESULTS))
    for (const le of ['0.05', '0.25', '1', '5', '+Inf'])
      counts.set(
        `${status} ${le}`,
        metricValue(text, 'ingest_request_duration_seconds_bucket', { result, le }) ?? 0,
      );
  return counts;
}

export function summarize(batches: BatchRecord[]): LatencySummary {
  const durations = batches.map((b) => b.endedAt - b.startedAt).sort((a, b) => a - b);
  const at = (q: number) =>
    durations.length === 0
      ? 0
      : durations[Math.min(durations.length - 1, Math.ceil(q * durations.length) - 1)];
  return {
    requests: batches.length,
    ops: batches.reduce((n, b) => n + b.ops.length, 0),
    p50: at(0.5),
    p99: at(0.99),
    max: durations.at(-1) ?? 0,
  };
}

/**
 * Runs one load phase into the stack's ingest, recording every answer in `ledger`. A worker
 * whose request was refused waits as the client library does (Retry-After plus jitter); the
 * others keep sending.
 */
export async function runPhase(
  stack: OverloadStack,
  workload: FaultWorkload,
  ledger: Ledger,
  phase: PhaseOptions,
): Promise<PhaseResult> {
  const rss: Record<string, number> = {};
  const sample = () => {
    for (const service of [stack.ingest, stack.projector, stack.query]) {
      const mb = (service.rssBytes() ?? 0) / 1024 / 1024;
      rss[service.kind] = Math.max(rss[service.kind] ?? 0, Math.round(mb));
    }
  };
  const sampler = setInterval(sample, 500);
  const first = ledger.batches.length;
  const before = await answeredWithin(stack.ingest);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const started = Date.now();
  try {
    const load = startLoad({
      ingestUrl: () => stack.ingest.url,
      workload,
      totalOps: Number.MAX_SAFE_INTEGER,
      durationMs: phase.seconds * 1000,
      batchSize: [phase.batchSize, phase.batchSize],
      concurrency: phase.concurrency,
      opsPerSecond: phase.opsPerSecond,
      honourRetryAfter: true,
      ledger,
    });
    await load.done;
    const loadEnded = Date.now();
    loopDelay.disable();
    const after = await answeredWithin(stack.ingest);
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    const inService = (status: '202' | '429') => ({
      within50ms: delta(`${status} 0.05`),
      within250ms: delta(`${status} 0.25`),
      within1s: delta(`${status} 1`),
      within5s: delta(`${status} 5`),
      all: delta(`${status} +Inf`),
    });
    await waitForCatchUp({ ...stack, ledger }, 300_000);
    const catchUpMs = Date.now() - loadEnded;
    sample();
    const batches = ledger.batches.slice(first);
    const admitted = batches.filter((b) => b.status === 202);
    const refused = batches.filter((b) => b.status === 429 && b.code === 'OVERLOADED');
    const answers = new Ledger();
    for (const b of batches) answers.record(b);
    return {
      label: phase.label,
      seconds: (loadEnded - started) / 1000,
      offeredOpsPerSecond: phase.opsPerSecond ?? 'closed loop',
      admittedOpsPerSecond: Math.round(
        admitted.reduce((n, b) => n + b.ops.length, 0) / ((loadEnded - started) / 1000),
      ),
      admitted: summarize(admitted),
      refused: {
        ...summarize(refused),
        retryAfterSeconds: [...new Set(refused.map((b) => Number(b.retryAfter)))]
          .filter((n) => !Number.isNaN(n))
          .sort((a, b) => a - b),
        withoutRetryAfter: refused.filter((b) => !/^[1-9]\d*$/.test(b.retryAfter ?? '')).length,
      },
      answers: answers.answers(),
      rssMb: rss,
      catchUpMs,
      inService: { '202': inService('202'), '429': inService('429') },
      clientLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
    };
  } finally {
    clearInterval(sampler);
  }
}

/** The verifier of the fault suite over everything the phases sent. */
export function verifyOverload(stack: OverloadStack, ledger: Ledger): Promise<VerifyReport> {
  return verifyPipeline({
    scenario: 'overload',
    databaseUrl: stack.databaseUrl,
    brokers: stack.brokers,
    topics: stack.topics,
    ledger,
    queryUrl: stack.query.url,
  });
}

export { sleep };
