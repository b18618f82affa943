import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiKeyAuthenticator, authenticateBeforeBody, createHttpApp } from '@sync/platform';
import { AdmissionControl } from './admission-control.service';
import { admissionBeforeBody, ingestRequestHandler } from './ingest-request.middleware';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { IngestModule } from './ingest.module';

/** The ingest service, initialized but not listening (tests listen on port 0). */
export async function createIngestApp(config: IngestConfig): Promise<NestExpressApplication> {
  // createHttpApp takes a module class; a root class per app instance carries this config.
  @Module({ imports: [IngestModule.register(config)] })
  class IngestRootModule {}
  // The handler runs before Nest routes, so it reaches the metrics once the app exists.
  const metrics: { current?: IngestMetrics } = {};
  const auth: { current?: ApiKeyAuthenticator } = {};
  const admission: { current?: AdmissionControl } = {};
  const app = await createHttpApp(IngestRootModule, {
    name: 'ingest',
    description:
      'Write side of the sync service: validates batches of CRDT operations, checks their clocks and publishes them to Kafka all or nothing.',
    bodyLimitBytes: config.maxBodyBytes,
    cors: config.cors,
    // A caller without a valid key, or beyond the in-flight bounds, is turned away before its
    // body is read.
    beforeBody: [
      ingestRequestHandler(() => metrics.current),
      authenticateBeforeBody(() => auth.current),
      admissionBeforeBody(() => admission.current),
    ],
  });
  metrics.current = app.get(IngestMetrics);
  admission.current = app.get(AdmissionControl);
  if (config.auth.enabled) auth.current = app.get(ApiKeyAuthenticator);
  await app.init();
  return app;
}
