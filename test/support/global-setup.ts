import { freePort } from './free-ports';
import { dockerAnswers, portAnswers, runKafkaScript } from './infrastructure';

/**
 * Provides a real Kafka broker and a real Postgres server to the e2e suite:
 * the env vars when set; else containers when a Docker engine answers; else the
 * project's own scripts (Kafka from Maven Central jars, the local or an embedded Postgres).
 * What it starts it records in globalThis so the teardown stops exactly that.
 */
export default async function globalSetup(): Promise<void> {
  const started: string[] = [];
  // Existing suites run without keys; test/security*.e2e-spec.ts turns auth on for its own apps.
  process.env.SYNC_AUTH_DISABLED ??= 'true';
  const useDocker =
    (!process.env.KAFKA_BROKERS || !process.env.DATABASE_URL) && (await dockerAnswers());

  if (!process.env.KAFKA_BROKERS) {
    if (useDocker) {
      process.env.KAFKA_BROKERS = await startKafkaContainer();
    } else {
      const port = Number(process.env.KAFKA_PORT ?? 9092);
      if (!(await portAnswers('127.0.0.1', port))) {
        console.log(`\n[setup] starting Kafka on 127.0.0.1:${port} from the project's scripts`);
        await runKafkaScript('start');
        started.push('kafka-script');
      }
      process.env.KAFKA_BROKERS = `127.0.0.1:${port}`;
    }
  }

  if (!process.env.DATABASE_URL) {
    if (await portAnswers('127.0.0.1', 5432)) {
      process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
    } else if (useDocker) {
      process.env.DATABASE_URL = await startPostgresContainer();
    } else {
      process.env.DATABASE_URL = await startEmbeddedPostgres();
    }
  }
  // Test files derive their own database from this URL (see test-env.ts).
  process.env.TEST_DATABASE_BASE_URL = process.env.DATABASE_URL;
  (globalThis as { __syncStarted?: string[] }).__syncStarted = started;
}

async function startKafkaContainer(): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers');
  // Advertised listener must be the host-side port, so it is chosen before the start.
  const port = await freePort();
  const container = await new GenericContainer('apache/kafka:4.1.1')
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  (globalThis as { __syncContainers?: unknown[] }).__syncContainers = [
    ...((globalThis as { __syncContainers?: unknown[] }).__syncContainers ?? []),
    container,
  ];
  return `127.0.0.1:${port}`;
}

async function startPostgresContainer(): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:16-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  (globalThis as { __syncContainers?: unknown[] }).__syncContainers = [
    ...((globalThis as { __syncContainers?: unknown[] }).__syncContainers ?? []),
    container,
  ];
  return `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
}

async function startEmbeddedPostgres(): Promise<string> {
  const { startEmbeddedPostgres: start } = await import('../../scripts/postgres/embedded-postgres');
  const { url, stop } = await start();
  (globalThis as { __syncStopEmbedded?: () => Promise<void> }).__syncStopEmbedded = stop;
  return url;
}
