import { Injectable } from '@nestjs/common';
import { AppliedOffsetWatcher } from './applied-offset-watcher.service';
import { LibrariesRepository } from './libraries.repository';
import { PartitionLocator } from './partition-locator.service';
import type { ConsistencyParams } from './query-params';

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

  constructor(
    private readonly libraries: LibrariesRepository,
    private readonly locator: PartitionLocator,
    private readonly watcher: AppliedOffsetWatcher,
  ) {}

  /** Returns once the library's partition is applied through `minOffset` (no-op without one). */
  async ensureApplied(libraryId: string, { minOffset, waitMs }: ConsistencyParams): Promise<void> {
    if (minOffset === undefined) return;
    const partition = await this.partitionOf(libraryId);
    await this.watcher.waitUntilApplied(partition, minOffset, waitMs);
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
