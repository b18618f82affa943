import { partitionForLibrary } from './library-partition';

describe('partitionForLibrary', () => {
  it('is stable and in range', () => {
    const id = '3f0c8a4e-7b1d-4c2a-9e5f-0a1b2c3d4e5f';
    const first = partitionForLibrary(id, 6);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(6);
    expect(partitionForLibrary(id.toUpperCase(), 6)).toBe(first);
  });

  it('spreads libraries over every partition', () => {
    const spread = new Set(
      Array.from({ length: 200 }, (_, i) => partitionForLibrary(`lib-${i}`, 6)),
    );
    expect(spread.size).toBe(6);
  });
});
