import { listen, verifyTopicPartitions } from '@sync/platform';
import { createIngestApp } from './ingest.app';
import { type IngestConfig, readIngestConfig } from './ingest.config';

async function main(): Promise<void> {
  let config: IngestConfig;
  try {
    config = readIngestConfig(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
  // Refuses to run on a topic whose partition count is not the recorded one (docs/SCALING.md).
  await verifyTopicPartitions('ingest', config.kafka, config.databaseUrl);
  const app = await createIngestApp(config);
  await listen(app, config.port, config.host);
  console.log(
    `ingest: brokers ${config.kafka.brokers.join(',')}, topic ${config.kafka.operationsTopic}, ` +
      `${config.publish.mode} publishing, schema ${config.schema.source}`,
  );
}

main().catch((error: unknown) => {
  console.error(
    `ingest failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
