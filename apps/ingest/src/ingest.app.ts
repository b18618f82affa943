import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiKeyAuthenticator, authenticateBeforeBody, createFastifyHttpApp } from '@sync/platform';
import { AdmissionControl } from './admission-control.service';
import {
  admissionBeforeBody,
  countAndCheckPublishes,
  checkPublishPath,
} from './ingest-request.hooks';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { IngestModule } from './ingest.module';

/**
 * The ingest service, initialized but not listening (tests listen on port 0). It runs on
 * Fastify: its per-request cost is what an op costs (docs/BENCHMARKS.md).
 */
export async function createIngestApp(config: IngestConfig): Promise<NestFastifyApplication> {
  // createFastifyHttpApp takes a module class; a root class per app instance carries this config.
  @Module({ imports: [IngestModule.register(config)] })
  class IngestRootModule {}
  // The hooks run before Nest routes, so they reach these once the app exists.
  const metrics: { current?: IngestMetrics } = {};
  const auth: { current?: ApiKeyAuthenticator } = {};
  const admission: { current?: AdmissionControl } = {};
  const app = await createFastifyHttpApp(IngestRootModule, {
    name: 'ingest',
    description:
      'Write side of the sync service: validates batches of CRDT operations, checks their clocks and publishes them to Kafka all or nothing.',
    bodyLimitBytes: config.maxBodyBytes,
    cors: config.cors,
    // A caller without a valid key, or beyond the in-flight bounds, is turned away before its
    // body is read.
    beforeBody: (fastify) => {
      countAndCheckPublishes(fastify, () => metrics.current);
      fastify.addHook(
        'onRequest',
        authenticateBeforeBody(() => auth.current),
      );
      fastify.addHook(
        'onRequest',
        admissionBeforeBody(() => admission.current),
      );
    },
    refuseUrl: checkPublishPath,
  });
  metrics.current = app.get(IngestMetrics);
  admission.current = app.get(AdmissionControl);
  if (config.auth.enabled) auth.current = app.get(ApiKeyAuthenticator);
  await app.init();
  return app;
}
