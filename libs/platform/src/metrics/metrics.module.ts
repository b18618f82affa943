import { type DynamicModule, Global, Module } from '@nestjs/common';
import { METRICS_REGISTRY, createMetricsRegistry } from './metrics';
import { MetricsController } from './metrics.controller';

@Global()
@Module({})
export class MetricsModule {
  static register(service: string): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(service) }],
      exports: [METRICS_REGISTRY],
    };
  }
}
