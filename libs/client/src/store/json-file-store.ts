import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type LocalStore,
  type StoredJournal,
  type StoredNodeState,
  type StoredReplica,
  type StoredReplicaChange,
  replayReplica,
} from './local-store';

type Generation = { generation?: number };

/**
 * Files in a directory: journal.json (the node's own state, small), replica.json (the confirmed
 * replica as of its last full save) and replica.changes (rows changed since, one JSON line per
 * append). Whole files are replaced atomically (write-to-temp, fsync, rename); appends are
 * fsynced lines. So a pull checkpoint writes only what it changed, and the node compacts by a
 * full save once the changes outgrow the replica (SyncNode decides).
 *
 * Each full save starts a new generation and change lines carry theirs: lines of an older
 * generation (a crash between the new replica.json and emptying replica.changes) are ignored,
 * and a torn last line (a crash mid-append) is cut off when loading.
 */
export class JsonFileStore implements LocalStore {
  private generation = 0;

  constructor(readonly directory: string) {}

  async load(): Promise<StoredNodeState> {
    await mkdir(this.directory, { recursive: true });
    const journal = await this.read('journal.json');
    const base = await this.read('replica.json');
    if (base === undefined) return { journal: journal as StoredJournal | undefined };
    const { generation = 0, ...replica } = base as StoredReplica & Generation;
    this.generation = generation;
    const changes = (await this.readChanges()).filter((c) => c.generation === generation);
    return {
      journal: journal as StoredJournal | undefined,
      replica: replayReplica(replica, changes),
    };
  }

  saveJournal(journal: StoredJournal): Promise<void> {
    return this.write('journal.json', journal);
  }

  async saveReplica(replica: StoredReplica): Promise<void> {
    const generation = this.generation + 1;
    await this.write('replica.json', { ...replica, generation });
    this.generation = generation;
    await writeFile(this.path('replica.changes'), '', { flush: true });
  }

  appendReplica(change: StoredReplicaChange): Promise<void> {
    const line = JSON.stringify({ ...change, generation: this.generation });
    return appendFile(this.path('replica.changes'), `${line}\n`, { flush: true });
  }

  private async readChanges(): Promise<(StoredReplicaChange & Generation)[]> {
    const text = await this.readText('replica.changes');
    if (text === undefined) return [];
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // A torn last line: never acknowledged, and later appends must not run into it.
      await writeFile(this.path('replica.changes'), text.slice(0, end), { flush: true });
    }
    return text
      .slice(0, end)
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as StoredReplicaChange & Generation);
  }

  private path(name: string): string {
    return join(this.directory, name);
  }

  private async readText(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async read(name: string): Promise<unknown> {
    const text = await this.readText(name);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }

  private async write(name: string, value: unknown): Promise<void> {
    const target = this.path(name);
    const temp = `${target}.${randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(value), { flush: true });
    await rename(temp, target);
  }
}
