import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createFastifyHttpApp } from '@sync/platform';
import { serveInspector } from './inspector-assets';
import type { QueryConfig } from './query.config';
import { QueryModule } from './query.module';

/**
 * The query service, initialized but not listening (tests listen on port 0). It runs on
 * Fastify: its per-request cost is most of what a read costs (docs/BENCHMARKS.md). Fastify sends
 * no ETag: reads change with every applied op and clients hold offsets, not validators.
 */
export async function createQueryApp(config: QueryConfig): Promise<NestFastifyApplication> {
  // createFastifyHttpApp takes a module class; a root class per app instance carries this config.
  @Module({ imports: [QueryModule.register(config)] })
  class QueryRootModule {}
  const app = await createFastifyHttpApp(QueryRootModule, {
    name: 'query',
    description:
      'Read side of the sync service: materialized state, the op feed, rejections and status, with read-your-writes (minOffset).',
    // Every route is a GET and reads no body; keep what the JSON parser accepts small.
    bodyLimitBytes: 16 * 1024,
    cors: config.cors,
    beforeBody: (fastify) => serveInspector(fastify, config.inspectorDir),
  });
  await app.init();
  // Fastify routes nothing before it is ready (listen() gets it there); tests may serve the
  // HTTP server themselves without listen().
  await app.getHttpAdapter().getInstance().ready();
  return app;
}
