import { Kafka, type KafkaConfig, type Producer } from 'kafkajs';
import { keyedPartitioner } from './keyed-partitioner';
import { clusterFactory } from './kafkajs-internals';
import type { Lane } from './lanes';
import type { PartitionLeaders } from './partition-leaders';
import { producerRetry } from './producer-retry';
import { RequestTap } from './publish-outcome';
import { PublishError } from './publish-types';
import { tappedSocketFactory } from './tapped-socket-factory';

export interface LaneProducerSettings {
  client: KafkaConfig;
  /** Where the partitioner records each message key's partition (for a result's offsets). */
  partitions: WeakMap<Buffer, number>;
  /** Where the partitions of request lanes lead (request lanes gather one broker's batches). */
  leaders: PartitionLeaders;
  transactionTimeoutMs: number;
  publishTimeoutMs: number;
  isClosed(): boolean;
}

/**
 * The kafkajs producer of each lane: created on first use on a tapped client of its own,
 * connected (and, for transactions, fenced), replaced after any failure and re-created in the
 * background until it connects again.
 */
export class LaneProducers {
  constructor(private readonly settings: LaneProducerSettings) {}

  /** The lane's connected producer, connecting (and fencing, for transactions) on first use. */
  connected(lane: Lane): Promise<Producer> {
    if (lane.ready !== null) return lane.ready;
    if (this.settings.isClosed())
      return Promise.reject(new PublishError('closed', 'the producer is closed'));
    const producer = (lane.producer ??= this.create(lane));
    const ready = (async () => {
      await producer.connect();
      if (lane.kind === 'transaction') {
        // InitProducerId now: bumps the epoch, which aborts a transaction an earlier holder of
        // this transactional id left open. An empty transaction sends nothing else.
        const transaction = await producer.transaction();
        await transaction.abort();
      }
      return producer;
    })();
    lane.ready = ready;
    ready.catch(() => {
      if (lane.ready !== ready) return;
      lane.ready = null;
      lane.producer = null;
      lane.tap?.close();
      void producer.disconnect().catch(() => undefined);
    });
    return ready;
  }

  /**
   * A new kafkajs producer for the lane, on a client of its own whose every request write goes
   * through the lane's tap: the tap knows whether a produce request or a commit of the current
   * send went out, and once closed, kafkajs' retry loop (which reconnects even a disconnected
   * producer) can no longer reach any broker, so an abandoned send cannot land later.
   */
  private create(lane: Lane): Producer {
    const tap = new RequestTap();
    const socketFactory = tappedSocketFactory(tap, this.settings.client.socketFactory);
    const kafka = new Kafka({ ...this.settings.client, socketFactory });
    // Fails now, not when a commit must be repeated, if kafkajs' internals have changed.
    clusterFactory(kafka);
    lane.tap = tap;
    lane.kafka = kafka;
    return kafka.producer({
      createPartitioner: keyedPartitioner(
        this.settings.partitions,
        lane.kind === 'request' ? this.settings.leaders : undefined,
      ),
      // Transactions are idempotent by themselves; `idempotent` would also fetch a second,
      // unused producer id on connect.
      idempotent: lane.kind === 'request',
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: lane.transactionalId,
      transactionTimeout: this.settings.transactionTimeoutMs,
      retry: producerRetry(this.settings.publishTimeoutMs),
    });
  }

  /**
   * Replaces the lane's producer after a failure. Reusing it would be unsafe: kafkajs rewinds
   * the sequence numbers of a failed produce, so if the broker did append it, the next batch of
   * the same length would be taken for its duplicate and silently dropped. A new producer gets a
   * new producer id or epoch (fencing the old transaction) and fresh sequences.
   */
  replace(lane: Lane, work: Promise<unknown>): void {
    const producer = lane.producer;
    lane.tap?.close();
    lane.producer = null;
    lane.ready = null;
    if (producer !== null) {
      const disconnect = () => void producer.disconnect().catch(() => undefined);
      disconnect();
      work.then(disconnect, disconnect);
    }
    void this.recover(lane);
  }

  /**
   * Re-creates the lane's producer in the background until it connects, so the next publish
   * finds it ready and, for transactions, so its InitProducerId fences the failed producer and
   * aborts the transaction it left open as soon as the broker answers again, instead of holding
   * read_committed readers of that partition until the transaction times out.
   */
  private async recover(lane: Lane): Promise<void> {
    if (lane.recovering) return;
    lane.recovering = true;
    try {
      for (let delay = 200; !this.settings.isClosed(); delay = Math.min(delay * 2, 5000)) {
        try {
          await this.connected(lane);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    } finally {
      lane.recovering = false;
    }
  }
}
