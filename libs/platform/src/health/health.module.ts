import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { HEALTH_CHECKS } from './health-check';
import { HealthController } from './health.controller';

@Module({})
export class HealthModule {
  /** `checks` is a provider whose value is a HealthCheck[] (usually a useFactory). */
  static register(checks: Omit<Provider, 'provide'> & { inject?: unknown[] }): DynamicModule {
    return {
      module: HealthModule,
      controllers: [HealthController],
      providers: [{ ...(checks as object), provide: HEALTH_CHECKS } as Provider],
    };
  }
}
