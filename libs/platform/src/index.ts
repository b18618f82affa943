export * from './errors/error-codes';
export * from './errors/sync-error';
export * from './errors/error-mapping';
export * from './errors/http-error.filter';
// The env reader lives in framework-free @sync/config; re-exported for the services' config.
export * from '@sync/config';
export * from './health/health-check';
export * from './health/health.module';
export * from './metrics/metrics';
export * from './metrics/metrics.module';
export * from './http/http-app';
export * from './http/answer-deadlines';
export * from './http/cors';
export * from './auth';
export * from './startup/partition-count-guard';
export * from './http/fastify-http-app';
