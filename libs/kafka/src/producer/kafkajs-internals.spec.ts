import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKAJS_VERSION_CHECKED, clusterFactory, coordinatorClient } from './kafkajs-internals';

describe('coordinatorClient', () => {
  it("finds kafkajs' cluster factory and builds a client that can look up a coordinator", () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const client = coordinatorClient(kafka);
    for (const method of ['connect', 'disconnect', 'findGroupCoordinator'] as const) {
      expect(typeof client[method]).toBe('function');
    }
  });

  it('refuses a client without one', () => {
    expect(() => clusterFactory({} as Kafka)).toThrow(/no cluster factory/);
  });
});

describe('the kafkajs this code was checked against', () => {
  it('is the installed one: re-check kafkajs-internals.ts before changing it', () => {
    // The cluster factory's private symbol and the copy of kafkajs' socket factory belong to one
    // kafkajs version; a different one must be checked (and this constant moved) on purpose.
    const manifest = readFileSync(require.resolve('kafkajs/package.json'), 'utf8');
    const { version } = JSON.parse(manifest) as { version: string };
    expect(version).toBe(KAFKAJS_VERSION_CHECKED);
  });
});
