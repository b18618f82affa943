import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ApiKeysRepository } from '@sync/persistence';
import {
  AuthModule,
  type HealthCheck,
  type HealthChecksFactory,
  HealthModule,
  MetricsModule,
} from '@sync/platform';
import { AdmissionControl } from './admission-control.service';
import { ClockController } from './clock.controller';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { IngestService } from './ingest.service';
import { INGEST_CONFIG } from './ingest.tokens';
import { OperationPublisher } from './operation-publisher.service';
import { OperationsController } from './operations.controller';

/** Config, metrics and the Kafka publisher, global so the health module can check the broker. */
@Global()
@Module({})
class IngestKafkaModule {
  static register(config: IngestConfig): DynamicModule {
    return {
      module: IngestKafkaModule,
      providers: [{ provide: INGEST_CONFIG, useValue: config }, IngestMetrics, OperationPublisher],
      exports: [INGEST_CONFIG, IngestMetrics, OperationPublisher],
    };
  }
}

const healthChecks: HealthChecksFactory = {
  useFactory: (publisher: OperationPublisher): HealthCheck[] => [publisher.healthCheck()],
  inject: [OperationPublisher],
};

@Module({})
export class IngestModule {
  static register(config: IngestConfig): DynamicModule {
    return {
      module: IngestModule,
      imports: [
        IngestKafkaModule.register(config),
        MetricsModule.register('ingest'),
        AuthModule.register({
          settings: config.auth,
          store: () => new ApiKeysRepository(config.databaseUrl, 2, 'sync-ingest-auth'),
          rateLimit: config.rateLimit,
        }),
        // Ready = the broker answers and the operations topic exists.
        HealthModule.register(healthChecks),
      ],
      controllers: [OperationsController, ClockController],
      providers: [IngestService, AdmissionControl],
    };
  }
}
