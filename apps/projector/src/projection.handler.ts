import { Catch, Controller, Logger, type RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { ConsumedBatch } from '@sync/kafka';
import { type Observable, throwError } from 'rxjs';
import { decodeMessage } from './message-decoder';
import { BatchAbandoned, ProjectionService } from './projection.service';
import { PROJECT_BATCH, ProjectorConsumer } from './projector.consumer';
import { ProjectorMetrics } from './projector.metrics';

/** Lets a failed batch's error reach the consumer as thrown (it pauses and retries the partition). */
@Catch()
class RethrowRpcErrors implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** The projection as the microservice's handler: one partition batch, one transaction. */
@Controller()
@UseFilters(RethrowRpcErrors)
export class ProjectionHandler {
  private readonly logger = new Logger('projector');

  constructor(
    private readonly projection: ProjectionService,
    private readonly metrics: ProjectorMetrics,
    private readonly consumer: ProjectorConsumer,
  ) {}

  @MessagePattern(PROJECT_BATCH)
  async apply(
    @Payload() batch: ConsumedBatch,
  ): Promise<{ lastOffset: bigint; nextOffset: bigint } | null> {
    const { topic, partition } = batch;
    const startedAt = process.hrtime.bigint();
    try {
      const outcome = await this.projection.apply(
        {
          topic,
          partition,
          messages: batch.messages.map(decodeMessage),
          lastOffset: batch.lastOffset,
        },
        {
          heartbeat: batch.heartbeat,
          isRunning: batch.isRunning,
          deadLetter: (t, p, letters) => this.consumer.deadLetters.publish(t, p, letters),
        },
      );
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      this.metrics.recordBatch(outcome, batch.messages.length, seconds);
      const lag = batch.highWatermark - outcome.nextOffset;
      this.metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
      return { lastOffset: batch.lastOffset, nextOffset: outcome.nextOffset };
    } catch (error) {
      if (!(error instanceof BatchAbandoned)) throw error;
      this.logger.log(`partition ${partition}: batch at ${batch.firstOffset} abandoned (stopping)`);
      return null;
    }
  }
}
