import { prepared } from './sql-client';

describe('prepared', () => {
  it('names each statement text once, the same for every call of it', () => {
    const first = prepared('SELECT 1 WHERE $1::int > 0');
    const other = prepared('SELECT 2 WHERE $1::int > 0');
    expect(prepared('SELECT 1 WHERE $1::int > 0')).toBe(first);
    expect(first).toMatchObject({
      name: expect.stringMatching(/^sync_\d+$/),
      text: 'SELECT 1 WHERE $1::int > 0',
    });
    expect(other.name).not.toBe(first.name);
  });

  it('has no own property for pg to copy on every call', () => {
    expect(Object.getOwnPropertyNames(prepared('SELECT 3'))).toEqual([]);
  });
});
