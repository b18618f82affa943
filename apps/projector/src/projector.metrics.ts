import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchOutcome } from './projection.service';

/** The projector's Prometheus metrics; names are prefixed `projector_`. */
export class ProjectorMetrics {
  /** Ops merged and committed, by outcome; rate(sum) is the projector's ops/s. */
  readonly operations: Counter<'outcome'>;
  readonly rejections: Counter<'reason'>;
  readonly deadLetters: Counter<'reason'>;
  readonly batchSize: Histogram;
  readonly batchDuration: Histogram;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly pending: Gauge;
  readonly failures: Counter<'stage'>;
  readonly paused: Gauge;
  readonly skipped: Counter;

  constructor(registry: Registry, countPending: () => Promise<number>) {
    const registers = [registry];
    this.operations = new Counter({
      name: 'projector_operations_applied_total',
      help: 'Ops merged and committed to Postgres, by outcome (accepted, duplicate, rejected)',
      labelNames: ['outcome'],
      registers,
    });
    this.rejections = new Counter({
      name: 'projector_rejections_total',
      help: 'Ops rejected by the merge rules and stored as rejected, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'projector_dead_letters_total',
      help: 'Messages that were not valid ops, sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'projector_batch_size',
      help: 'Messages per applied partition batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000],
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'projector_batch_duration_seconds',
      help: 'Time to apply one partition batch (decode, transaction, Kafka commit)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.lag = new Gauge({
      name: 'projector_consumer_lag',
      help: 'Messages between the partition high watermark and the applied position',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.pending = new Gauge({
      name: 'projector_pending_operations',
      help: 'Record ops waiting for the CREATE of their record (all libraries)',
      registers,
      async collect() {
        try {
          this.set(await countPending());
        } catch {
          // Database unreachable: keep the last value; readiness reports the outage.
        }
      },
    });
    this.failures = new Counter({
      name: 'projector_batch_failures_total',
      help: 'Batches that failed and will be retried after a pause, by stage',
      labelNames: ['stage'],
      registers,
    });
    this.paused = new Gauge({
      name: 'projector_paused_partitions',
      help: 'Partitions paused while waiting for a dependency to come back',
      registers,
    });
    this.skipped = new Counter({
      name: 'projector_skipped_messages_total',
      help: 'Messages below the stored position (already applied), skipped by fencing',
      registers,
    });
  }

  recordBatch(outcome: BatchOutcome, messages: number, seconds: number): void {
    this.batchSize.observe(messages);
    this.batchDuration.observe(seconds);
    if (outcome.skipped > 0) this.skipped.inc(outcome.skipped);
    if (outcome.accepted > 0) this.operations.inc({ outcome: 'accepted' }, outcome.accepted);
    if (outcome.duplicates > 0) this.operations.inc({ outcome: 'duplicate' }, outcome.duplicates);
    let rejected = -outcome.revoked; // revoked ops were counted as accepted by an earlier batch
    for (const [reason, count] of Object.entries(outcome.rejections)) {
      rejected += count ?? 0;
      this.rejections.inc({ reason }, count ?? 0);
    }
    if (rejected > 0) this.operations.inc({ outcome: 'rejected' }, rejected);
    for (const [reason, count] of Object.entries(outcome.deadLetters)) {
      this.deadLetters.inc({ reason }, count ?? 0);
    }
  }
}
