import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { TopicOffsetsReader, kafkaClientConfig } from '@sync/kafka';
import { type PartitionLag, deadLetterCount, partitionLags } from './pipeline-lag';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { ReplicaLag } from './replica-lag';
import { ReplicaLagService } from './replica-lag.service';

export interface ServiceHealth {
  name: 'query' | 'ingest' | 'projector';
  /** Where it was asked (null: this service itself). */
  url: string | null;
  ready: boolean;
  /** Why it is not ready. */
  message: string | null;
}

export interface PipelineView {
  topic: string;
  partitions: PartitionLag[];
  deadLetters: { topic: string; messages: number | null };
  /** Why Kafka could not be asked, per topic (that topic's ends, lag or count are then null). */
  kafkaError: string | null;
  services: ServiceHealth[];
  /** How far the database this instance reads (and whose positions `partitions` shows) trails the primary. */
  replica: ReplicaLag;
}

const PROBE_TIMEOUT_MS = 2000;

/**
 * The pipeline at a glance for the inspector: projector positions against the topic's ends,
 * the dead-letter topic's size, and whether each of the three services is ready. Read live
 * from Postgres and Kafka, so it is right whichever projector instance owns a partition (the
 * projector's Prometheus gauges are per process and only move when a batch runs).
 */
@Injectable()
export class PipelineService implements OnApplicationShutdown {
  private readonly offsets: TopicOffsetsReader;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
    private readonly replicaLag: ReplicaLagService,
  ) {
    this.offsets = new TopicOffsetsReader(kafkaClientConfig(config.kafka));
  }

  async view(): Promise<PipelineView> {
    const { operationsTopic, deadLetterTopic } = this.config.kafka;
    // Each topic on its own: a missing dead-letter topic must not hide the lag.
    const [nextOffsets, replica, operations, deadLetters, services] = await Promise.all([
      this.nextOffsets(),
      this.replicaLag.lag(),
      settle(this.offsets.ends(operationsTopic)),
      settle(this.offsets.ends(deadLetterTopic)),
      Promise.all([
        this.selfHealth(),
        probe('ingest', this.config.ingestUrl),
        probe('projector', this.config.projectorUrl),
      ]),
    ]);
    const errors = [
      operations.error === null ? null : `${operationsTopic}: ${operations.error}`,
      deadLetters.error === null ? null : `${deadLetterTopic}: ${deadLetters.error}`,
    ].filter((error) => error !== null);
    return {
      topic: operationsTopic,
      partitions: partitionLags(nextOffsets, operations.value),
      deadLetters: {
        topic: deadLetterTopic,
        messages: deadLetters.value === null ? null : deadLetterCount(deadLetters.value),
      },
      kafkaError: errors.length === 0 ? null : errors.join('; '),
      services,
      replica,
    };
  }

  private async nextOffsets(): Promise<Map<number, bigint>> {
    const rows = await this.database.query<{ partition: number; next_offset: string }>(
      `SELECT partition, next_offset FROM partition_offsets WHERE topic = $1`,
      [this.config.kafka.operationsTopic],
    );
    return new Map(rows.map((row) => [row.partition, BigInt(row.next_offset)]));
  }

  private async selfHealth(): Promise<ServiceHealth> {
    try {
      await this.database.ping();
      return { name: 'query', url: null, ready: true, message: null };
    } catch (error) {
      const message = `postgres: ${error instanceof Error ? error.message : String(error)}`;
      return { name: 'query', url: null, ready: false, message };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.offsets.close();
  }
}

/** GET /health/ready of another service; its error body's message says what is down. */
async function probe(name: ServiceHealth['name'], base: string): Promise<ServiceHealth> {
  const url = new URL('/health/ready', base).toString();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (response.ok) return { name, url, ready: true, message: null };
    const body = (await response.json().catch(() => ({}))) as { message?: unknown };
    const message = typeof body.message === 'string' ? body.message : `HTTP ${response.status}`;
    return { name, url, ready: false, message };
  } catch (error) {
    return { name, url, ready: false, message: reasonOf(error) };
  }
}

async function settle<T>(promise: Promise<T>): Promise<{ value: T | null; error: string | null }> {
  try {
    return { value: await promise, error: null };
  } catch (error) {
    return { value: null, error: reasonOf(error) };
  }
}

/** fetch() says only "fetch failed"; the cause names the refused connection or the timeout. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}
