import { checkJsonLimits } from './json-limits';

describe('checkJsonLimits', () => {
  it('reports strings, property names and nesting past the limits, with paths', () => {
    const limits = { maxDepth: 2, maxStringLength: 5 };
    expect(checkJsonLimits([{ a: 'short', b: [1, 'x'] }], limits)).toEqual([]);
    const issues = checkJsonLimits(
      [{ ok: 1 }, { data: { name: 'toolong', deep: { x: 1 } }, ['k'.repeat(6)]: 1 }],
      limits,
    );
    expect(
      issues
        .map(({ index, path }) => ({ index, path }))
        .sort((x, y) => x.path.localeCompare(y.path)),
    ).toEqual([
      { index: 1, path: 'data.deep' },
      { index: 1, path: 'data.name' },
      { index: 1, path: 'kkkkkk…' },
    ]);
  });

  it('does not recurse into a hostile depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(checkJsonLimits([deep], { maxDepth: 32, maxStringLength: 10 })).toHaveLength(1);
  });

  it('names the path of what is too deep inside arrays and objects', () => {
    const limits = { maxDepth: 3, maxStringLength: 100 };
    expect(checkJsonLimits([{ a: [[[1]], [2]] }, { a: [{}, { b: [] }] }], limits)).toEqual([
      { index: 0, path: 'a.0.0', message: 'nested deeper than 3 levels' },
      { index: 1, path: 'a.1.b', message: 'nested deeper than 3 levels' },
    ]);
  });
});
