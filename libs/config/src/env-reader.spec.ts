import { ConfigError, EnvReader } from './env-reader';

describe('EnvReader', () => {
  it('uses fallbacks for unset variables', () => {
    const env = new EnvReader({});
    expect(env.port('PORT', 3001)).toBe(3001);
    expect(env.brokers('KAFKA_BROKERS', '127.0.0.1:9092')).toEqual(['127.0.0.1:9092']);
    expect(() => env.done('svc')).not.toThrow();
  });

  it('parses valid values', () => {
    const env = new EnvReader({ PORT: '8080', B: 'a:1, b:2', F: 'yes' });
    expect(env.port('PORT', 1)).toBe(8080);
    expect(env.brokers('B', 'x:1')).toEqual(['a:1', 'b:2']);
    expect(env.bool('F', false)).toBe(true);
  });

  it('reports every bad value in one error', () => {
    const env = new EnvReader({ PORT: '99999', B: 'nohostport', N: '1.5', U: 'mysql://x/y' });
    env.port('PORT', 1);
    env.brokers('B', 'x:1');
    env.int('N', 3);
    env.url('U', 'postgres://x/y', ['postgres:', 'postgresql:']);
    let caught: unknown;
    try {
      env.done('ingest');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message).toContain('PORT="99999"');
    expect(message).toContain('B="nohostport"');
    expect(message).toContain('N="1.5"');
    expect(message).toContain('U: expected a postgres: or postgresql: URL');
  });

  it('collects problems of self-checked settings and of setting pairs with the others', () => {
    const env = new EnvReader({ PORT: 'x' });
    env.port('PORT', 1);
    expect(env.parsed('GOOD', () => 42)).toBe(42);
    expect(
      env.parsed('SYNC_SCHEMA', () => {
        throw new Error('file not found');
      }),
    ).toBeUndefined();
    env.problem('A (1) must be longer than B (2)');
    expect(() => env.done('svc')).toThrow(
      'svc: invalid configuration:\n  - PORT="x": expected an integer from 0 to 65535\n  - SYNC_SCHEMA: file not found\n  - A (1) must be longer than B (2)',
    );
  });
});
