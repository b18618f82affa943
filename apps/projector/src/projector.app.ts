import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createHttpApp } from '@sync/platform';
import type { ProjectorConfig } from './projector.config';
import { ProjectorModule } from './projector.module';

/**
 * The projector app, not listening yet: the consumer starts on init (app.init() or listen()).
 * Tests start it in-process with their own database, topics and group.
 */
export async function createProjectorApp(config: ProjectorConfig): Promise<NestExpressApplication> {
  @Module({ imports: [ProjectorModule.forRoot(config)] })
  class ProjectorRootModule {}
  return createHttpApp(ProjectorRootModule, {
    name: 'projector',
    description:
      'Consumes the ops topic and applies each op exactly once into Postgres. HTTP serves health and metrics only.',
    bodyLimitBytes: 1024,
  });
}
