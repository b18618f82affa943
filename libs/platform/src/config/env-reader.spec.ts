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
});
