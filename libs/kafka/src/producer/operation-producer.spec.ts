import { randomUUID } from 'node:crypto';
import { canonicalJson, defaultSchema, validateBatch } from '@sync/protocol';
import { libraryKey, operationMessages } from './operation-messages';
import { OperationProducer } from './operation-producer';

const client = { clientId: 'spec', brokers: ['127.0.0.1:1'] };

describe('operationMessages', () => {
  it('keys every op by the lowercase library id and carries its canonical JSON', () => {
    const libraryId = randomUUID().toUpperCase();
    const { ops } = validateBatch(
      [
        {
          type: 'CREATE',
          recordId: randomUUID(),
          model: 'Tag',
          data: { name: 'a', color: 'b' },
          node: randomUUID(),
          timestamp: { hybrid: '7000000000000000000' },
        },
      ],
      defaultSchema(),
    );
    const [message] = operationMessages(libraryId, ops);
    expect(message.key).toBe(libraryId.toLowerCase());
    expect(message.value).toBe(canonicalJson(ops[0]));
    expect(message.value.indexOf('"data"')).toBeLessThan(message.value.indexOf('"type"'));
  });

  it('refuses a key that is not a UUID', () => {
    expect(() => libraryKey('library-1')).toThrow(TypeError);
  });
});

describe('OperationProducer', () => {
  it('validates its options', () => {
    expect(() => new OperationProducer({ client, topic: 't', producers: 0 })).toThrow(RangeError);
    expect(
      () =>
        new OperationProducer({
          client,
          topic: 't',
          publishTimeoutMs: 5000,
          transactionTimeoutMs: 5000,
        }),
    ).toThrow(/transactionTimeoutMs/);
  });

  it.each(['single-request', 'transactional'] as const)(
    '%s: refuses before sending an empty batch, mixed keys, an op larger than a record batch',
    async (mode) => {
      const producer = new OperationProducer({
        client,
        topic: 't',
        mode,
        maxRecordBatchBytes: 1024,
      });
      const key = randomUUID();
      await expect(producer.publishMessages([])).rejects.toThrow(RangeError);
      await expect(
        producer.publishMessages([
          { key, value: '{}' },
          { key: randomUUID(), value: '{}' },
        ]),
      ).rejects.toThrow(/same key/);
      await expect(
        producer.publishMessages([
          { key, value: '{}' },
          { key, value: 'x'.repeat(2000) },
        ]),
      ).rejects.toMatchObject({
        name: 'PublishError',
        reason: 'too-large',
        message: expect.stringContaining('index 1'),
      });
      await producer.close();
      await expect(producer.publishMessages([{ key, value: '{}' }])).rejects.toMatchObject({
        reason: 'closed',
      });
    },
  );
});
