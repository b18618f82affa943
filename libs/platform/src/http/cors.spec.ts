import { EnvReader } from '@sync/config';
import { type CorsAnswer, corsPolicy, readCorsSettings } from './cors';

describe('readCorsSettings', () => {
  it('allows no origin by default', () => {
    const reader = new EnvReader({});
    expect(readCorsSettings(reader)).toEqual({ origins: [] });
    expect(() => reader.done('test')).not.toThrow();
  });

  it('reads a comma list of origins, trimmed and without repeats', () => {
    const reader = new EnvReader({
      SYNC_CORS_ORIGINS: ' http://localhost:5173, https://app.example.com,http://localhost:5173 ',
    });
    expect(readCorsSettings(reader)).toEqual({
      origins: ['http://localhost:5173', 'https://app.example.com'],
    });
    reader.done('test');
  });

  it.each([
    '*',
    'https://app.example.com/',
    'https://app.example.com/path',
    'ftp://x.org',
    'app.example.com',
  ])('refuses %j, which is not an http(s) origin', (entry) => {
    const reader = new EnvReader({ SYNC_CORS_ORIGINS: `http://ok.test,${entry}` });
    expect(readCorsSettings(reader)).toEqual({ origins: [] });
    expect(() => reader.done('test')).toThrow(/SYNC_CORS_ORIGINS/);
  });
});

describe('corsPolicy', () => {
  const preflightOf = (origin: string, method: string, requestHeaders?: string) => ({
    origin,
    'access-control-request-method': method,
    ...(requestHeaders === undefined ? {} : { 'access-control-request-headers': requestHeaders }),
  });
  const headersOf = (answer: CorsAnswer) => new Map(answer.headers);

  it('adds nothing and answers no preflight when no origin is configured', () => {
    expect(corsPolicy({ origins: [] })).toBeUndefined();
  });

  it('answers an allowed preflight with the methods and headers a client sends', () => {
    const policy = corsPolicy({ origins: ['http://localhost:5173'] })!;
    const answer = policy(
      'OPTIONS',
      preflightOf('http://localhost:5173', 'POST', 'authorization,content-type'),
    );
    expect(answer.preflight).toBe(true);
    const headers = headersOf(answer);
    expect(headers.get('Access-Control-Allow-Origin')).toBe('http://localhost:5173');
    expect(headers.get('Access-Control-Allow-Methods')).toContain('POST');
    expect(headers.get('Access-Control-Allow-Headers')).toMatch(/Authorization/);
    expect(headers.get('Access-Control-Allow-Headers')).toMatch(/Content-Type/);
    expect(headers.get('Access-Control-Allow-Headers')).toMatch(/Last-Event-ID/);
  });

  it("marks an allowed origin's ordinary request, exposing Retry-After", () => {
    const policy = corsPolicy({ origins: ['http://localhost:5173'] })!;
    const answer = policy('GET', { origin: 'http://localhost:5173' });
    expect(answer.preflight).toBe(false);
    expect(headersOf(answer)).toEqual(
      new Map([
        ['Access-Control-Allow-Origin', 'http://localhost:5173'],
        ['Access-Control-Expose-Headers', 'Retry-After'],
      ]),
    );
  });

  it('gives another origin no CORS header, preflight or not', () => {
    const policy = corsPolicy({ origins: ['http://localhost:5173'] })!;
    const preflight = policy('OPTIONS', preflightOf('http://evil.test', 'POST'));
    expect(preflight).toEqual({ headers: [], preflight: true });
    expect(policy('GET', { origin: 'http://evil.test' })).toEqual({
      headers: [],
      preflight: false,
    });
    expect(policy('GET', {})).toEqual({ headers: [], preflight: false });
  });

  it('takes an OPTIONS request without Access-Control-Request-Method as no preflight', () => {
    const policy = corsPolicy({ origins: ['http://localhost:5173'] })!;
    expect(policy('OPTIONS', { origin: 'http://localhost:5173' }).preflight).toBe(false);
  });
});
