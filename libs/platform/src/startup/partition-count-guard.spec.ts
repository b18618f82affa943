import { partitionCountMismatch } from './partition-count-guard';

describe('partitionCountMismatch', () => {
  it('lets a service run when the topic has the recorded count', () => {
    expect(partitionCountMismatch('ingest', 'sync.operations', 6, 6)).toBeUndefined();
  });

  it('names both counts, the topic and what to do when they differ', () => {
    const message = partitionCountMismatch('projector', 'sync.operations', 12, 6);
    expect(message).toContain('projector refuses to run');
    expect(message).toContain('topic sync.operations has 12 partitions');
    expect(message).toContain('but 6 were recorded');
    expect(message).toContain('npm run cli -- repartition --to 12');
    expect(message).toContain('docs/SCALING.md');
  });
});
