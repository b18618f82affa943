import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY } from '@sync/platform';
import { Counter, Histogram, type Registry } from 'prom-client';

export type PublishOutcome = 'ok' | 'unavailable' | 'timeout' | 'too-large' | 'closed' | 'unknown';

/** Prometheus metrics of the ingest path (HTTP latency per route comes from the platform). */
@Injectable()
export class IngestMetrics {
  private readonly accepted: Counter;
  private readonly rejected: Counter<'code'>;
  private readonly requests: Counter<'result'>;
  private readonly requestDuration: Histogram<'result'>;
  private readonly batchSize: Histogram;
  private readonly publishDuration: Histogram<'outcome'>;
  private readonly sendBatches: Histogram<'kind' | 'ok'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.accepted = new Counter({
      name: 'ingest_operations_accepted_total',
      help: 'Operations published to Kafka',
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'ingest_operations_rejected_total',
      help: 'Operations of rejected batches, by error code (batches whose body parsed as an array)',
      labelNames: ['code'],
      registers: [registry],
    });
    this.requests = new Counter({
      name: 'ingest_requests_total',
      help: 'POST /libraries/{libraryId}/operations requests by result: "accepted" or the error code',
      labelNames: ['result'],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: 'ingest_request_duration_seconds',
      help: 'POST /libraries/{libraryId}/operations from routing (before the body is read) to the answer, by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.batchSize = new Histogram({
      name: 'ingest_batch_operations',
      help: 'Operations per accepted batch',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
      registers: [registry],
    });
    this.publishDuration = new Histogram({
      name: 'ingest_publish_duration_seconds',
      help: 'Time to publish a batch to Kafka (all in-sync replicas), by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.sendBatches = new Histogram({
      name: 'ingest_kafka_send_batches',
      help: 'Batches per Kafka send, by kind (request, transaction): above 1 when waiting batches share a transaction or a produce request',
      labelNames: ['kind', 'ok'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    });
  }

  kafkaSend(kind: string, batches: number, ok: boolean): void {
    this.sendBatches.observe({ kind, ok: String(ok) }, batches);
  }

  batchAccepted(operations: number): void {
    this.accepted.inc(operations);
    this.batchSize.observe(operations);
  }

  batchRejected(code: string, operations: number): void {
    this.rejected.inc({ code }, operations);
  }

  request(result: string, seconds: number): void {
    this.requests.inc({ result });
    this.requestDuration.observe({ result }, seconds);
  }

  /** Starts a publish timer; call the result with the outcome. */
  publishTimer(): (outcome: PublishOutcome) => void {
    const stop = this.publishDuration.startTimer();
    return (outcome) => {
      stop({ outcome });
    };
  }
}
