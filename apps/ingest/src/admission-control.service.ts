import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY, SyncError } from '@sync/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Admission, AdmissionBudget, type Work, type WorkKind } from './admission-budget';
import type { IngestConfig } from './ingest.config';
import { INGEST_CONFIG } from './ingest.tokens';

/**
 * Admission control of the publish path: work beyond the in-flight bounds is refused at once
 * (429 OVERLOADED with Retry-After) instead of queueing, so the requests that are admitted keep
 * their latency and a burst cannot grow the process without bound.
 */
@Injectable()
export class AdmissionControl {
  private readonly budget: AdmissionBudget;
  private readonly refused: Counter<'limit'>;
  private readonly maxBodyBytes: number;

  constructor(
    @Inject(INGEST_CONFIG) config: IngestConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const { maxRequests, maxOps, maxBytes } = config.admission;
    this.maxBodyBytes = config.maxBodyBytes;
    const budget = new AdmissionBudget({ requests: maxRequests, ops: maxOps, bytes: maxBytes });
    this.budget = budget;
    this.refused = new Counter({
      name: 'ingest_admission_refused_total',
      help: 'Requests answered 429 OVERLOADED, by the in-flight bound they would have passed',
      labelNames: ['limit'],
      registers: [registry],
    });
    new Gauge({
      name: 'ingest_inflight',
      help: 'Publish work admitted and not yet answered, by kind (requests, ops, bytes)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        for (const [kind, value] of Object.entries(budget.load)) this.set({ kind }, value);
      },
    });
  }

  /**
   * Before the body is read: throws 429 OVERLOADED when a request of `bytes` (its
   * Content-Length, 0 when unknown) could not be admitted now, so the excess is not even parsed.
   */
  precheck(bytes: number): void {
    // Too large to be accepted ever: 413 PAYLOAD_TOO_LARGE from the body parser, not "later".
    if (bytes > this.maxBodyBytes) return;
    this.refuseUnless(this.budget.check({ requests: 1, ops: 0, bytes }, Date.now()));
  }

  /** Runs `job` inside the budget, or throws 429 OVERLOADED without running it. */
  async run<T>(work: Omit<Work, 'requests'>, job: () => Promise<T>): Promise<T> {
    const admitted: Work = { requests: 1, ...work };
    this.refuseUnless(this.budget.tryAdmit(admitted, Date.now()));
    try {
      return await job();
    } finally {
      this.budget.release(admitted, Date.now());
    }
  }

  private refuseUnless(answer: Admission): void {
    if (answer.admitted) return;
    this.refused.inc({ limit: answer.limit });
    throw new SyncError(
      'OVERLOADED',
      `the ingest is at its bound of ${describe(answer.limit)} in flight; nothing was accepted, retry after ${answer.retryAfterSeconds} s`,
      undefined,
      { 'Retry-After': String(answer.retryAfterSeconds) },
    );
  }
}

function describe(kind: WorkKind): string {
  return kind === 'requests' ? 'requests' : kind === 'ops' ? 'operations' : 'request bytes';
}
