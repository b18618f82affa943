import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import { HEALTH_CHECKS, type HealthCheck } from './health-check';
import { HealthController } from './health.controller';

/** How a service builds its health checks from its own providers. */
export interface HealthChecksFactory {
  inject?: InjectionToken[];
  // `never[]` so that a factory with any typed parameters fits; Nest passes the injected values.
  useFactory: (...dependencies: never[]) => HealthCheck[] | Promise<HealthCheck[]>;
}

@Module({})
export class HealthModule {
  static register(checks: HealthChecksFactory): DynamicModule {
    return {
      module: HealthModule,
      controllers: [HealthController],
      providers: [
        {
          provide: HEALTH_CHECKS,
          useFactory: checks.useFactory as (...dependencies: unknown[]) => Promise<HealthCheck[]>,
          inject: checks.inject ?? [],
        },
      ],
    };
  }
}
