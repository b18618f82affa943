import { redactUrl } from '@sync/persistence';
import { listen, verifyTopicPartitions } from '@sync/platform';
import { createProjectorApp } from './projector.app';
import { type ProjectorConfig, readProjectorConfig } from './projector.config';

async function main(): Promise<void> {
  let config: ProjectorConfig;
  try {
    config = readProjectorConfig(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
  // Refuses to run on a topic whose partition count is not the recorded one (docs/SCALING.md).
  await verifyTopicPartitions('projector', config.kafka, config.databaseUrl);
  const app = await createProjectorApp(config);
  await listen(app, config.port, config.host);
  console.log(
    `projector: group ${config.groupId} on ${config.kafka.operationsTopic} ` +
      `(dead letters to ${config.kafka.deadLetterTopic}), database ${redactUrl(config.databaseUrl)}, ` +
      `schema ${config.schema.source}`,
  );
}

main().catch((error: unknown) => {
  console.error(
    `projector failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
