import { listen, verifyTopicPartitions } from '@sync/platform';
import { redactUrl } from '@sync/persistence';
import { createQueryApp } from './query.app';
import { type QueryConfig, readQueryConfig } from './query.config';

async function main(): Promise<void> {
  let config: QueryConfig;
  try {
    config = readQueryConfig(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
  // Refuses to run on a topic whose partition count is not the recorded one (docs/SCALING.md).
  await verifyTopicPartitions('query', config.kafka, config.primaryDatabaseUrl, {
    configured: config.topicPartitions,
  });
  const app = await createQueryApp(config);
  await listen(app, config.port, config.host);
  console.log(
    `query: database ${redactUrl(config.databaseUrl)}${config.databaseUrl === config.primaryDatabaseUrl ? '' : ` (primary ${redactUrl(config.primaryDatabaseUrl)})`}, topic ${config.kafka.operationsTopic}, schema ${config.schema.source}`,
  );
}

main().catch((error: unknown) => {
  console.error(`query failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
