import { partitionCountMismatch } from './partition-count-guard';

describe('partitionCountMismatch', () => {
  it('lets a service run when the topic has the recorded count', () => {
    expect(
      partitionCountMismatch('ingest', 'sync.operations', 6, { partitions: 6, replacedBy: null }),
    ).toBeUndefined();
  });

  it('names both counts, the topic and what to do when they differ', () => {
    const message = partitionCountMismatch('projector', 'sync.operations', 12, {
      partitions: 6,
      replacedBy: null,
    });
    expect(message).toContain('projector refuses to run');
    expect(message).toContain('topic sync.operations has 12 partitions');
    expect(message).toContain('but 6 were recorded');
    expect(message).toContain('npm run cli -- repartition --to 12');
    expect(message).toContain('docs/SCALING.md');
  });

  it('refuses a topic the projection no longer follows, naming its replacement', () => {
    const message = partitionCountMismatch('ingest', 'sync.operations', 6, {
      partitions: 6,
      replacedBy: 'sync.operations.p12',
    });
    expect(message).toContain('ingest refuses to run');
    expect(message).toContain('was repartitioned into sync.operations.p12');
    expect(message).toContain('SYNC_TOPIC=sync.operations.p12');
  });
});
