import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Pool } from 'pg';
import { ProjectorConsumer } from './projector.consumer';
import { PROJECTOR_MICROSERVICES, PROJECTOR_PG_POOL } from './projector.tokens';

/** Starts the app's microservices (the batch consumer transport); set once the app exists. */
export interface MicroserviceStarter {
  start(): Promise<void>;
}

/**
 * Starts consuming once the app is up (app.init() or listen()). On shutdown Nest closes the
 * microservice (the consumer leaves the group, the batch in flight finishes or rolls back)
 * before the shutdown hooks, which then close the remaining Kafka connections and the pool.
 */
@Injectable()
export class ProjectorLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('projector');

  constructor(
    private readonly consumer: ProjectorConsumer,
    @Inject(PROJECTOR_PG_POOL) private readonly pool: Pool,
    @Inject(PROJECTOR_MICROSERVICES) private readonly microservices: MicroserviceStarter,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.microservices.start();
  }

  beforeApplicationShutdown(signal?: string): void {
    if (signal) this.logger.log(`${signal}: stopping the consumer`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.disconnect();
    await this.pool.end().catch(() => undefined);
  }
}
