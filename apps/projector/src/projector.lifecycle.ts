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
import { PROJECTOR_PG_POOL } from './projector.tokens';

/** Starts consuming once the app is up; on shutdown stops the consumer before closing the pool. */
@Injectable()
export class ProjectorLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('projector');

  constructor(
    private readonly consumer: ProjectorConsumer,
    @Inject(PROJECTOR_PG_POOL) private readonly pool: Pool,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (signal) this.logger.log(`${signal}: stopping the consumer`);
    await this.consumer.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
