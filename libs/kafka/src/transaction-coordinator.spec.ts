import { Kafka, logLevel } from 'kafkajs';
import { clusterFactory, coordinatorClient } from './transaction-coordinator';

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
