import { type DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { kafkaClientConfig } from '@sync/kafka';
import { createPgPool } from '@sync/persistence';
import {
  type HealthCheck,
  type HealthChecksFactory,
  HealthModule,
  METRICS_REGISTRY,
  MetricsModule,
} from '@sync/platform';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { ProjectionService } from './projection.service';
import type { ProjectorConfig } from './projector.config';
import { ProjectorConsumer } from './projector.consumer';
import { type MicroserviceStarter, ProjectorLifecycle } from './projector.lifecycle';
import { ProjectorMetrics } from './projector.metrics';
import { PROJECTOR_CONFIG, PROJECTOR_MICROSERVICES, PROJECTOR_PG_POOL } from './projector.tokens';
import { ProjectionHandler } from './projection.handler';

/** The projector's providers; global so the health module can inject them. */
@Global()
@Module({})
class ProjectorCoreModule {
  static forRoot(config: ProjectorConfig, microservices: MicroserviceStarter): DynamicModule {
    const logger = new Logger('projector');
    return {
      module: ProjectorCoreModule,
      controllers: [ProjectionHandler],
      providers: [
        { provide: PROJECTOR_CONFIG, useValue: config },
        { provide: PROJECTOR_MICROSERVICES, useValue: microservices },
        {
          provide: PROJECTOR_PG_POOL,
          useFactory: (): Pool =>
            createPgPool({
              url: config.databaseUrl,
              poolSize: config.poolSize,
              applicationName: 'sync-projector',
              // Its slice reads join a batch's keys to tables that start empty: see customPlans.
              customPlans: true,
              onIdleError: (error) =>
                logger.warn(`idle database connection lost: ${error.message}`),
            }),
        },
        {
          provide: ProjectorMetrics,
          inject: [METRICS_REGISTRY, PROJECTOR_PG_POOL],
          useFactory: (registry: Registry, pool: Pool) =>
            new ProjectorMetrics(registry, async () => {
              const { rows } = await pool.query<{ n: string }>(
                'SELECT count(*) AS n FROM pending_operations',
              );
              return Number(rows[0].n);
            }),
        },
        {
          provide: ProjectionService,
          inject: [PROJECTOR_PG_POOL],
          useFactory: (pool: Pool) =>
            new ProjectionService(pool, config.schema, config.chunkOps, (library, offset, error) =>
              logger.error(
                `merge failed on library ${library} offset ${offset}, dead-lettered: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
              ),
            ),
        },
        {
          provide: ProjectorConsumer,
          inject: [ProjectionService, ProjectorMetrics, PROJECTOR_PG_POOL],
          useFactory: (projection: ProjectionService, metrics: ProjectorMetrics, pool: Pool) =>
            new ProjectorConsumer(
              kafkaClientConfig(config.kafka),
              config,
              projection,
              metrics,
              async () => {
                await pool.query('SELECT 1');
              },
            ),
        },
        ProjectorLifecycle,
      ],
      exports: [PROJECTOR_CONFIG, PROJECTOR_PG_POOL, ProjectorConsumer, ProjectorMetrics],
    };
  }
}

/** Ready = the broker and the database answer. */
const healthChecks: HealthChecksFactory = {
  inject: [ProjectorConsumer, PROJECTOR_PG_POOL],
  useFactory: (consumer: ProjectorConsumer, pool: Pool): HealthCheck[] => [
    { name: 'kafka', check: () => consumer.checkBroker() },
    {
      name: 'postgres',
      check: async () => {
        await pool.query('SELECT 1');
      },
    },
  ],
};

@Module({})
export class ProjectorModule {
  static forRoot(config: ProjectorConfig, microservices: MicroserviceStarter): DynamicModule {
    return {
      module: ProjectorModule,
      imports: [
        MetricsModule.register('projector'),
        ProjectorCoreModule.forRoot(config, microservices),
        HealthModule.register(healthChecks),
      ],
    };
  }
}
