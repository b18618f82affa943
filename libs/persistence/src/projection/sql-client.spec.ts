import { prepared } from './sql-client';

describe('prepared', () => {
  it('names each statement text once and keeps the name for every call of it', () => {
    const first = prepared('SELECT 1 WHERE $1::int > 0', [1]);
    const again = prepared('SELECT 1 WHERE $1::int > 0', [2]);
    const other = prepared('SELECT 2 WHERE $1::int > 0', [1]);
    expect(again.name).toBe(first.name);
    expect(other.name).not.toBe(first.name);
    expect(again).toMatchObject({ text: 'SELECT 1 WHERE $1::int > 0', values: [2] });
    expect(first.values).toEqual([1]);
  });

  it('gives a call only its values as an own property (what pg copies per query)', () => {
    const statement = prepared('SELECT 3 WHERE $1::int > 0', [3]);
    expect(Object.keys(statement)).toEqual(['values']);
    expect(Object.getOwnPropertyDescriptors(statement)).not.toHaveProperty('text');
  });
});
