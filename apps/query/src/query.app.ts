import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createHttpApp } from '@sync/platform';
import { serveInspector } from './inspector-assets';
import type { QueryConfig } from './query.config';
import { QueryModule } from './query.module';

/** The query service, initialized but not listening (tests listen on port 0). */
export async function createQueryApp(config: QueryConfig): Promise<NestExpressApplication> {
  // createHttpApp takes a module class; a root class per app instance carries this config.
  @Module({ imports: [QueryModule.register(config)] })
  class QueryRootModule {}
  const app = await createHttpApp(QueryRootModule, {
    name: 'query',
    description:
      'Read side of the sync service: materialized state, the op feed, rejections and status, with read-your-writes (minOffset).',
    // Every route is a GET and reads no body; keep what the JSON parser accepts small.
    bodyLimitBytes: 16 * 1024,
    cors: config.cors,
  });
  // Reads change with every applied op and clients hold offsets, not validators: skip ETag hashing.
  app.set('etag', false);
  serveInspector(app, config.inspectorDir);
  await app.init();
  return app;
}
