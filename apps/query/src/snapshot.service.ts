import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { NdjsonResponse } from './ndjson-response';
import { ReadYourWritesService } from './read-your-writes.service';
import {
  type SnapshotClocks,
  type SnapshotOrder,
  SnapshotRepository,
  type SnapshotView,
} from './snapshot.repository';

@Injectable()
export class SnapshotService {
  private readonly logger = new Logger('SnapshotService');

  constructor(
    private readonly snapshots: SnapshotRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  /**
   * Streams the snapshot as NDJSON (compressed when the request accepts gzip or br): header,
   * rows, then an `end` trailer with the counts. Errors before the first byte are ordinary
   * contract errors; after it the connection is cut, so a reader that got no trailer knows the
   * snapshot is incomplete.
   */
  async stream(
    libraryId: string,
    view: SnapshotView,
    order: SnapshotOrder,
    clocks: SnapshotClocks,
    reply: FastifyReply,
  ): Promise<void> {
    const partition = await this.readYourWrites.partitionOf(libraryId);
    const snapshot = await this.snapshots.open(libraryId, partition, view, order, clocks);
    const counts = { records: 0, relations: 0, pending: 0 };
    const body = NdjsonResponse.start(reply, { 'X-Snapshot-Offset': snapshot.header.offset ?? '' });
    try {
      if (!(await body.write(`${JSON.stringify(snapshot.header)}\n`))) return;
      for await (const chunk of snapshot.chunks()) {
        if (chunk.type === 'record') counts.records += chunk.count;
        else if (chunk.type === 'relation') counts.relations += chunk.count;
        else counts.pending += chunk.count;
        if (!(await body.write(chunk.text))) return;
      }
      const end =
        view === 'full'
          ? { type: 'end', ...counts }
          : { type: 'end', records: counts.records, relations: counts.relations };
      await body.write(`${JSON.stringify(end)}\n`);
      await body.end();
    } catch (error) {
      this.logger.warn(
        `snapshot of ${libraryId} failed mid-stream: ${error instanceof Error ? error.message : String(error)}`,
      );
      body.abort();
    } finally {
      await snapshot.close();
    }
  }
}
