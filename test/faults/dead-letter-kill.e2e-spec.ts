import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { KafkaProxy } from '../support/kafka-proxy';
import { createTestDatabase, kafkaBrokers } from '../support/test-env';
import {
  type FaultTopics,
  createTopics,
  deleteTopics,
  projectorEnv,
  waitUntil,
} from './support/environment';
import { ServiceProcess } from './support/services';
import { readTopic, topicMessageCount } from './support/verify';

/*
 * Dead letters are delivered at least once (apps/projector/README.md, "Dead letters"): they are
 * sent before the batch commits, so a projector killed between the two sends them again. The
 * projector reaches Kafka through a proxy that lets the dead letter's produce request reach the
 * broker and drops the answer, so the projector waits before its commit; it is SIGKILLed there
 * and a new one (straight to the broker) applies the batch again. Both copies must carry the
 * same identity (original-topic, original-partition, original-offset), key and value.
 */
describe('dead letters: at least once across a SIGKILL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let proxy: KafkaProxy | undefined;
  /** The test's topics, for afterAll. */
  let created: FaultTopics | undefined;
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(services.map((s) => s.kill()));
    await proxy?.close();
    await Promise.all([database?.drop(), created && deleteTopics(kafkaBrokers(), created)]);
  });

  it('a letter sent before a SIGKILL is sent again with the same identity, and nothing else changes', async () => {
    const brokers = kafkaBrokers();
    database = await createTestDatabase('fault_dlq_kill');
    const topics = await createTopics(brokers, 'fault-dlq-kill', 1);
    created = topics;
    const producer = new Kafka({
      clientId: 'fault-dlq-kill',
      brokers,
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    const poison = { key: randomUUID(), value: '{"not":"an op"}' };
    const [meta] = await producer.send({ topic: topics.operationsTopic, messages: [poison] });
    await producer.disconnect();

    proxy = await KafkaProxy.start(brokers[0]);
    // The projector's first produce is the dead letter: the broker appends it, the answer is lost.
    proxy.onProduce((n) => (n === 1 ? 'cut-response' : 'forward'));
    const first = await ServiceProcess.start('projector', {
      name: 'projector-1',
      env: projectorEnv([proxy.address], topics, database.url),
    });
    services.push(first);
    expect(
      await waitUntil(
        async () => (await topicMessageCount(brokers, topics.deadLetterTopic)) === 1,
        60_000,
        200,
      ),
    ).toBe(true);
    await first.kill();
    await proxy.close();

    const pool = new Pool({ connectionString: database.url, max: 1 });
    pool.on('error', () => undefined);
    try {
      const position = async () =>
        (
          await pool.query<{ next_offset: string }>(
            'SELECT next_offset FROM partition_offsets WHERE topic = $1 AND partition = 0',
            [topics.operationsTopic],
          )
        ).rows[0]?.next_offset;
      // Killed before its commit: the poison message is not marked applied.
      expect(await position()).not.toBe(String(BigInt(meta.baseOffset!) + 1n));

      const second = await ServiceProcess.start('projector', {
        name: 'projector-2',
        env: projectorEnv(brokers, topics, database.url),
      });
      services.push(second);
      expect(
        await waitUntil(
          async () => (await position()) === String(BigInt(meta.baseOffset!) + 1n),
          60_000,
          200,
        ),
      ).toBe(true);
      const ops = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM operations');
      expect(ops.rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }

    const letters = await readTopic(brokers, topics.deadLetterTopic);
    expect(letters).toHaveLength(2);
    const identity = (l: (typeof letters)[number]) => ({
      key: l.key?.toString(),
      value: l.value?.toString(),
      reason: l.headers['reason'],
      topic: l.headers['original-topic'],
      partition: l.headers['original-partition'],
      offset: l.headers['original-offset'],
    });
    const expected = {
      key: poison.key,
      value: poison.value,
      reason: 'INVALID_OPERATION',
      topic: topics.operationsTopic,
      partition: '0',
      offset: meta.baseOffset,
    };
    expect(letters.map(identity)).toEqual([expected, expected]);
  }, 180_000);
});
