import { Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ReadYourWritesService } from './read-your-writes.service';
import { SnapshotRepository, type SnapshotView } from './snapshot.repository';

/**
 * Writes `chunk` and waits while the socket's buffer is full, so a slow reader slows the
 * database reads instead of filling memory. False once the client has gone.
 */
export async function writeWithBackpressure(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

@Injectable()
export class SnapshotService {
  private readonly logger = new Logger('SnapshotService');

  constructor(
    private readonly snapshots: SnapshotRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  /**
   * Streams the snapshot as NDJSON: header, rows, then an `end` trailer with the counts. Errors
   * before the first byte are ordinary contract errors; after it the connection is cut, so a
   * reader that got no trailer knows the snapshot is incomplete.
   */
  async stream(libraryId: string, view: SnapshotView, res: Response): Promise<void> {
    const partition = await this.readYourWrites.partitionOf(libraryId);
    const snapshot = await this.snapshots.open(libraryId, partition, view);
    const counts = { records: 0, relations: 0, pending: 0 };
    try {
      res.status(200);
      res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Snapshot-Offset', snapshot.header.offset ?? '');
      if (!(await writeWithBackpressure(res, `${JSON.stringify(snapshot.header)}\n`))) return;
      for await (const batch of snapshot.lines()) {
        let text = '';
        for (const line of batch) {
          if (line.type === 'record') counts.records++;
          else if (line.type === 'relation') counts.relations++;
          else counts.pending++;
          text += `${JSON.stringify(line)}\n`;
        }
        if (!(await writeWithBackpressure(res, text))) return;
      }
      const end =
        view === 'full'
          ? { type: 'end', ...counts }
          : { type: 'end', records: counts.records, relations: counts.relations };
      await writeWithBackpressure(res, `${JSON.stringify(end)}\n`);
      res.end();
    } catch (error) {
      this.logger.warn(
        `snapshot of ${libraryId} failed mid-stream: ${error instanceof Error ? error.message : String(error)}`,
      );
      res.destroy();
    } finally {
      await snapshot.close();
    }
  }
}
