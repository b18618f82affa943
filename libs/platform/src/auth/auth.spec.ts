import { EnvReader } from '@sync/config';
import { generateApiKey, hashSecret, parseApiKey, secretMatches } from './api-key-token';
import { readAuthSettings, withAuthFlag } from './auth.settings';
import { RateLimiter } from './rate-limiter';

describe('API key tokens', () => {
  it('are random, parse back to their id and secret, and match only their own hash', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.token).not.toBe(b.token);
    const parsed = parseApiKey(a.token)!;
    expect(parsed.keyId).toBe(a.keyId);
    expect(hashSecret(parsed.secret)).toEqual(a.secretHash);
    expect(secretMatches(parsed.secret, a.secretHash)).toBe(true);
    expect(secretMatches(parsed.secret, b.secretHash)).toBe(false);
    expect(secretMatches(parsed.secret, Buffer.alloc(3))).toBe(false);
    for (const bad of [
      '',
      'sk_',
      `${a.token}x`,
      a.token.replace('sk_', 'pk_'),
      a.token.toUpperCase(),
    ]) {
      expect(parseApiKey(bad)).toBeNull();
    }
  });
});

describe('auth settings', () => {
  const saved = process.env.SYNC_AUTH_DISABLED;
  afterEach(() => {
    if (saved === undefined) delete process.env.SYNC_AUTH_DISABLED;
    else process.env.SYNC_AUTH_DISABLED = saved;
  });

  it('is on by default and off only with the explicit flag', () => {
    delete process.env.SYNC_AUTH_DISABLED;
    expect(readAuthSettings(new EnvReader(withAuthFlag({}))).enabled).toBe(true);
    const off = readAuthSettings(new EnvReader(withAuthFlag({ SYNC_AUTH_DISABLED: 'true' })));
    expect(off.enabled).toBe(false);
  });

  it('takes the flag from the process environment unless the given env sets it', () => {
    process.env.SYNC_AUTH_DISABLED = 'true';
    expect(readAuthSettings(new EnvReader(withAuthFlag({}))).enabled).toBe(false);
    const on = readAuthSettings(new EnvReader(withAuthFlag({ SYNC_AUTH_DISABLED: 'false' })));
    expect(on.enabled).toBe(true);
  });

  it('refuses a flag that is not a boolean', () => {
    const reader = new EnvReader({ SYNC_AUTH_DISABLED: 'maybe' });
    expect(readAuthSettings(reader).enabled).toBe(true);
    expect(() => reader.done('test')).toThrow(/SYNC_AUTH_DISABLED/);
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate, per key, and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter(
      { requestsPerSecond: 2, requestBurst: 3, opsPerSecond: 0 },
      () => now,
    );
    expect([1, 2, 3, 4].map(() => limiter.take('a', 1))).toEqual([0, 0, 0, 1]);
    expect(limiter.take('b', 1)).toBe(0);
    now += 500;
    expect(limiter.take('a', 1)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1);
  });

  it('lets one batch overdraw the ops budget, then makes the key wait it off', () => {
    let now = 0;
    const limiter = new RateLimiter(
      { requestsPerSecond: 0, requestBurst: 1, opsPerSecond: 100 },
      () => now,
    );
    expect(limiter.take('a', 350)).toBe(0);
    expect(limiter.take('a', 1)).toBe(3);
    now += 2600;
    expect(limiter.take('a', 1)).toBe(0);
  });
});
