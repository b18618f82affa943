import { deadLetterCount, partitionLags } from './pipeline-lag';

describe('partitionLags', () => {
  it('joins applied positions with the topic ends, every partition once, in order', () => {
    const lags = partitionLags(
      new Map([
        [2, 10n],
        [0, 5n],
      ]),
      [
        { partition: 0, low: '0', high: '8' },
        { partition: 1, low: '0', high: '3' },
        { partition: 2, low: '0', high: '10' },
      ],
    );
    expect(lags).toEqual([
      { partition: 0, appliedOffset: '4', endOffset: '8', lag: 3 },
      { partition: 1, appliedOffset: null, endOffset: '3', lag: 3 },
      { partition: 2, appliedOffset: '9', endOffset: '10', lag: 0 },
    ]);
  });

  it('never reports a negative lag', () => {
    expect(partitionLags(new Map([[0, 12n]]), [{ partition: 0, low: '0', high: '11' }])).toEqual([
      { partition: 0, appliedOffset: '11', endOffset: '11', lag: 0 },
    ]);
  });

  it('keeps the applied positions when Kafka did not answer', () => {
    expect(partitionLags(new Map([[1, 1n]]), null)).toEqual([
      { partition: 1, appliedOffset: '0', endOffset: null, lag: null },
    ]);
  });
});

describe('deadLetterCount', () => {
  it('counts what each partition still holds', () => {
    expect(
      deadLetterCount([
        { partition: 0, low: '2', high: '5' },
        { partition: 1, low: '0', high: '0' },
      ]),
    ).toBe(3);
  });
});
