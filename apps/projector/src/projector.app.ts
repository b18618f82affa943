import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createHttpApp } from '@sync/platform';
import type { ProjectorConfig } from './projector.config';
import { ProjectorConsumer } from './projector.consumer';
import type { MicroserviceStarter } from './projector.lifecycle';
import { ProjectorModule } from './projector.module';

/**
 * The projector app, not listening yet: a hybrid Nest app whose microservice is the batch
 * consumer (libs/kafka's transport) with ProjectionHandler as its handler, and whose HTTP side
 * serves health and metrics. The consumer starts on init (app.init() or listen()). Tests start
 * it in-process with their own database, topics and group.
 */
export async function createProjectorApp(config: ProjectorConfig): Promise<NestExpressApplication> {
  const microservices: MicroserviceStarter = {
    start: () => Promise.reject(new Error('the projector app is not created yet')),
  };
  @Module({ imports: [ProjectorModule.forRoot(config, microservices)] })
  class ProjectorRootModule {}
  const app = await createHttpApp(ProjectorRootModule, {
    name: 'projector',
    description:
      'Consumes the ops topic and applies each op exactly once into Postgres. HTTP serves health and metrics only.',
    bodyLimitBytes: 1024,
  });
  app.connectMicroservice({ strategy: app.get(ProjectorConsumer).transport });
  microservices.start = async () => {
    await app.startAllMicroservices();
  };
  return app;
}
