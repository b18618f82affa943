import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import { type KafkaSettings, kafkaClientConfig, readKafkaSettings } from '@sync/kafka';
import { EnvReader } from '@sync/platform';
import { createIngestApp } from '../apps/ingest/src/ingest.app';
import { readIngestConfig } from '../apps/ingest/src/ingest.config';
import { tagCreates } from './ingest-fixtures';
import { runKafkaScript } from './support/infrastructure';
import { eventually } from './support/test-env';

const execFileAsync = promisify(execFile);

/**
 * The services' Kafka clients over SASL: a broker of this file's own (kafka.sh on other ports,
 * with a SASL_PLAINTEXT listener beside the PLAINTEXT one; the shared broker is never touched),
 * SASL/PLAIN for the ingest producer and SASL/SCRAM-SHA-256 for a consumer, both configured
 * only through the services' env settings (readKafkaSettings + kafkaClientConfig).
 */
describe('Kafka clients over SASL (PLAIN and SCRAM-SHA-256) against a real broker', () => {
  // Ports of this file's broker: away from 9092/9093 and the cluster's 19092.., per run.
  const base = 30000 + Math.floor(Math.random() * 300) * 10;
  const brokerEnv = {
    KAFKA_PORT: String(base),
    KAFKA_CONTROLLER_PORT: String(base + 1),
    KAFKA_SASL_PORT: String(base + 2),
    KAFKA_PARTITIONS: '1',
  };
  const saslBroker = `127.0.0.1:${base + 2}`;
  const plainPassword = randomBytes(18).toString('base64url');
  const scramPassword = randomBytes(18).toString('base64url');
  const topic = `sasl.${randomUUID().slice(0, 8)}.operations`;
  const captured: string[] = [];
  let ingest: INestApplication | undefined;
  let started = false;

  const settings = (env: Record<string, string>): KafkaSettings => {
    const reader = new EnvReader({ KAFKA_BROKERS: saslBroker, SYNC_TOPIC: topic, ...env });
    const result = readKafkaSettings(reader, 'sasl-test');
    reader.done('sasl-test');
    return result;
  };
  const scram = { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'reader' };

  beforeAll(async () => {
    await runKafkaScript('start', { ...brokerEnv, KAFKA_SASL_USERS: `ingest:${plainPassword}` });
    started = true;
    // SCRAM credentials live in the cluster metadata; set through the plaintext admin listener.
    const libs = join(__dirname, '..', '.cache', 'kafka', '4.3.1', 'libs', '*');
    await execFileAsync('java', [
      '-XX:TieredStopAtLevel=1',
      '-cp',
      libs,
      'kafka.admin.ConfigCommand',
      '--bootstrap-server',
      `127.0.0.1:${base}`,
      '--alter',
      '--add-config',
      `SCRAM-SHA-256=[iterations=4096,password=${scramPassword}]`,
      '--entity-type',
      'users',
      '--entity-name',
      'reader',
    ]);
    const admin = new Kafka(
      kafkaClientConfig(settings({ ...scram, KAFKA_SASL_PASSWORD: scramPassword })),
    ).admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    });
    await admin.disconnect();
  }, 180_000);

  afterAll(async () => {
    await ingest?.close();
    // Only this file's broker (its own ports and directories); data and logs removed.
    if (started) await runKafkaScript('reset', brokerEnv);
  }, 60_000);

  it('refuses clients without or with wrong credentials on the SASL listener', async () => {
    for (const env of [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD: 'nope' },
      { ...scram, KAFKA_SASL_PASSWORD: plainPassword },
    ]) {
      const admin = new Kafka({
        ...kafkaClientConfig(settings(env)),
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      }).admin();
      await expect(admin.connect()).rejects.toThrow(/SASL .* authentication failed/i);
    }
  });

  it('publishes through the ingest service with SASL/PLAIN and reads back with SASL/SCRAM', async () => {
    const config = readIngestConfig({
      KAFKA_BROKERS: saslBroker,
      SYNC_TOPIC: topic,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'ingest',
      KAFKA_SASL_PASSWORD: plainPassword,
      SYNC_AUTH_DISABLED: 'true',
    });
    ingest = await createIngestApp(config);
    ingest.useLogger({
      log: (m: unknown) => captured.push(String(m)),
      error: (m: unknown) => captured.push(String(m)),
      warn: (m: unknown) => captured.push(String(m)),
      debug: (m: unknown) => captured.push(String(m)),
      verbose: (m: unknown) => captured.push(String(m)),
    });
    await ingest.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(ingest.getHttpServer().address() as { port: number }).port}`;
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);

    const libraryId = randomUUID();
    const ops = tagCreates(5);
    const response = await fetch(`${url}/libraries/${libraryId}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ops),
    });
    expect(response.status).toBe(202);

    const consumer = new Kafka({
      ...kafkaClientConfig(settings({ ...scram, KAFKA_SASL_PASSWORD: scramPassword })),
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: `sasl-${randomUUID()}`, maxWaitTimeInMs: 100 });
    const seen: { key: string; recordId: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const op = JSON.parse(message.value!.toString()) as { recordId: string };
        seen.push({ key: message.key!.toString(), recordId: op.recordId });
        return Promise.resolve();
      },
    });
    try {
      await eventually(() => Promise.resolve(seen.length >= 5 ? true : undefined), 30_000);
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toEqual(ops.map((op) => ({ key: libraryId, recordId: op.recordId })));
    expect(captured.join('\n')).not.toContain(plainPassword);
  });

  it('answers 503 BROKER_UNAVAILABLE, not a crash, when the ingest credentials are wrong', async () => {
    const wrong = await createIngestApp(
      readIngestConfig({
        KAFKA_BROKERS: saslBroker,
        SYNC_TOPIC: topic,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'ingest',
        KAFKA_SASL_PASSWORD: 'wrong-password',
        SYNC_AUTH_DISABLED: 'true',
        INGEST_PUBLISH_TIMEOUT_MS: '2000',
      }),
    );
    wrong.useLogger(false);
    try {
      await wrong.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(wrong.getHttpServer().address() as { port: number }).port}`;
      expect((await fetch(`${url}/health/ready`)).status).toBe(503);
      const response = await fetch(`${url}/libraries/${randomUUID()}/operations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tagCreates(1)),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: string }).error).toBe('BROKER_UNAVAILABLE');
    } finally {
      await wrong.close();
    }
  });
});
