import { negotiateEncoding } from './ndjson-response';

describe('negotiateEncoding (Accept-Encoding, RFC 9110)', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['deflate', 'identity'],
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, deflate, br', 'gzip'],
    ['br, gzip', 'gzip'],
    ['gzip;q=0.5, br', 'br'],
    ['GZIP;Q=0.8, br;q=0.9', 'br'],
    ['gzip;q=0, br;q=0', 'identity'],
    ['*', 'gzip'],
    ['*;q=0.5, gzip;q=0', 'br'],
    ['br;q=0.2, *;q=0.1', 'br'],
    ['gzip;q=abc', 'identity'],
  ])('%j answers %s', (header, coding) => {
    expect(negotiateEncoding(header)).toBe(coding);
  });
});
