import type { EnvReader } from '@sync/config';
import { type KafkaConfig, type SASLOptions, logLevel } from 'kafkajs';

export const DEFAULT_OPERATIONS_TOPIC = 'sync.operations';
export const DEFAULT_DLQ_TOPIC = 'sync.operations.dlq';
export const DEFAULT_CONSUMER_GROUP = 'sync-projector';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  operationsTopic: string;
  deadLetterTopic: string;
  ssl: boolean;
  sasl?: SASLOptions;
}

/** Kafka settings shared by every service, read from the environment. */
export function readKafkaSettings(env: EnvReader, clientId: string): KafkaSettings {
  const mechanism = env.oneOf('KAFKA_SASL_MECHANISM', 'none', [
    'none',
    'plain',
    'scram-sha-256',
    'scram-sha-512',
  ] as const);
  const username = env.string('KAFKA_SASL_USERNAME', '');
  const password = env.string('KAFKA_SASL_PASSWORD', '');
  return {
    brokers: env.brokers('KAFKA_BROKERS', '127.0.0.1:9092'),
    clientId: env.string('KAFKA_CLIENT_ID', clientId),
    operationsTopic: env.string('SYNC_TOPIC', DEFAULT_OPERATIONS_TOPIC),
    deadLetterTopic: env.string('SYNC_DLQ_TOPIC', DEFAULT_DLQ_TOPIC),
    ssl: env.bool('KAFKA_SSL', false),
    sasl: mechanism === 'none' ? undefined : { mechanism, username, password },
  };
}

export function kafkaClientConfig(settings: KafkaSettings): KafkaConfig {
  return {
    clientId: settings.clientId,
    brokers: settings.brokers,
    ssl: settings.ssl,
    sasl: settings.sasl,
    logLevel: logLevel.WARN,
    // Fail fast enough that HTTP callers get a 503 instead of a hung request.
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2000 },
  };
}

/** kafkajs' client settings and log levels, for apps that configure logging of a client. */
export { type KafkaConfig, type LogEntry, logLevel } from 'kafkajs';
