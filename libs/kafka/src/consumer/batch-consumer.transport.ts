import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { BatchConsumer, BatchHandler, ConsumedBatch } from './batch-consumer';

/**
 * The batch consumer as a Nest microservice transport (`app.connectMicroservice({ strategy })`):
 * every batch goes to the `@MessagePattern(pattern)` handler, whose answer (the last offset it
 * handled and the next stored offset, or null) the consumer needs before it commits to Kafka.
 * A handler error reaches the consumer as it was thrown (pause, backoff, retry), so the
 * handler's controller should let errors through (see RethrowRpcErrors).
 */
export class BatchConsumerTransport extends Server implements CustomTransportStrategy {
  private consumer: BatchConsumer | undefined;

  constructor(
    private readonly pattern: string,
    private readonly createConsumer: (handler: BatchHandler) => BatchConsumer,
  ) {
    super();
  }

  listen(callback: (error?: unknown) => void): void {
    const handler = this.getHandlerByPattern(this.pattern);
    if (handler === null) {
      callback(new Error(`no @MessagePattern('${this.pattern}') handler is registered`));
      return;
    }
    const consumer = this.createConsumer(async (batch: ConsumedBatch) => {
      const answer = this.transformToObservable(await handler(batch));
      return (await lastValueFrom(answer, { defaultValue: null })) as Awaited<
        ReturnType<BatchHandler>
      >;
    });
    this.consumer = consumer;
    consumer.start().then(() => callback(), callback);
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
  }

  on(): never {
    throw new Error('the batch consumer transport has no events to listen to');
  }

  unwrap<T>(): T {
    if (this.consumer === undefined) throw new Error('the transport is not listening');
    return this.consumer as T;
  }
}
