import {
  PartitionOffsetsRepository,
  ProjectionRepository,
  appendMergeResult,
  emptyChanges,
  inTransaction,
} from '@sync/persistence';
import { type Schema, emptySlice, mergeBatch, touchedKeys } from '@sync/protocol';
import type { Consumer, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { decodeMessage } from '../apps/projector/src/message-decoder';

/**
 * BENCHMARK BASELINE ONLY, NOT THE PROJECTOR. The straightforward design the real projector is
 * measured against: kafkajs eachMessage, and ONE Postgres transaction PER OP (lock the partition
 * row, load that op's rows, merge, write, advance). It shares the real projector's decoding, merge
 * engine and SQL, so the comparison isolates batching. Dead letters are dropped (none in the
 * benchmark workload); no retries, no metrics.
 */
export class NaiveProjector {
  private readonly consumer: Consumer;
  private readonly offsets = new PartitionOffsetsRepository();
  private readonly projection = new ProjectionRepository();

  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly topic: string,
    private readonly pool: Pool,
    private readonly schema: Schema,
    private readonly concurrency: number,
  ) {
    this.consumer = kafka.consumer({ groupId, readUncommitted: false });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.concurrency,
      eachMessage: async ({ partition, message }) => {
        const decoded = decodeMessage(message);
        await inTransaction(this.pool, async (client) => {
          const next = await this.offsets.lock(client, this.topic, partition);
          if (decoded.offset < next) return;
          if (decoded.kind === 'op') {
            const logged = [{ offset: decoded.offset, op: decoded.op }];
            const slices = await this.projection.loadSlices(
              client,
              new Map([[decoded.libraryId, touchedKeys(logged)]]),
            );
            const slice = slices.get(decoded.libraryId) ?? emptySlice();
            const result = mergeBatch(this.schema, slice, logged);
            const changes = emptyChanges();
            appendMergeResult(changes, this.schema, decoded.libraryId, partition, logged, result);
            await this.projection.write(client, changes);
          }
          await this.offsets.advance(client, this.topic, partition, decoded.offset + 1n);
        });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
