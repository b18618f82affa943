import { Inject, Injectable } from '@nestjs/common';
import { AppliedOffsetWatcher } from './applied-offset-watcher.service';
import { LibrariesRepository } from './libraries.repository';
import { PartitionLocator } from './partition-locator.service';
import type { ConsistencyParams } from './query-params';
import type { QueryConfig } from './query.config';
import { QUERY_CONFIG } from './query.tokens';
import { admitWaiter, serverBusy } from './query-overload';

/** Bound on remembered library partitions; the map is simply cleared when it fills up. */
const PARTITION_CACHE_SIZE = 100_000;

@Injectable()
export class ReadYourWritesService {
  /**
   * Partitions the projector recorded. A library's ops always go to one partition (key hashing
   * over a fixed partition count), so a recorded partition never changes; unseen ones are not
   * cached, since the projector may record them any moment.
   */
  private readonly recorded = new Map<string, number>();
  /** Requests waiting for their minOffset now (bounded by QUERY_MAX_OFFSET_WAITERS). */
  private waiting = 0;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly libraries: LibrariesRepository,
    private readonly locator: PartitionLocator,
    private readonly watcher: AppliedOffsetWatcher,
  ) {}

  /** Returns once the library's partition is applied through `minOffset` (no-op without one). */
  async ensureApplied(libraryId: string, { minOffset, waitMs }: ConsistencyParams): Promise<void> {
    if (minOffset === undefined) return;
    const partition = await this.partitionOf(libraryId);
    const next = this.watcher.observedNextOffset(partition);
    if (next !== undefined && next > minOffset) return;
    // Each waiter holds a timer and its request: beyond the bound, answer at once.
    if (!admitWaiter(this.waiting, this.config.overload.maxOffsetWaiters)) {
      throw serverBusy('requests waiting for minOffset');
    }
    this.waiting++;
    try {
      await this.watcher.waitUntilApplied(partition, minOffset, waitMs);
    } finally {
      this.waiting--;
    }
  }

  async partitionOf(libraryId: string): Promise<number> {
    const cached = this.recorded.get(libraryId);
    if (cached !== undefined) return cached;
    const partition = await this.libraries.recordedPartition(libraryId);
    if (partition === undefined) return this.locator.partitionOfUnseen(libraryId);
    if (this.recorded.size >= PARTITION_CACHE_SIZE) this.recorded.clear();
    this.recorded.set(libraryId, partition);
    return partition;
  }
}
