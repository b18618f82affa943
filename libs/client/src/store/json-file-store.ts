import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalStore, StoredJournal, StoredNodeState, StoredReplica } from './local-store';

/**
 * Two JSON files in a directory (journal.json, replica.json), each replaced atomically by
 * write-to-temp, fsync and rename. The replica file is rewritten whole after a pull, which suits
 * libraries of modest size; back LocalStore with SQLite or similar for large ones.
 */
export class JsonFileStore implements LocalStore {
  constructor(readonly directory: string) {}

  async load(): Promise<StoredNodeState> {
    await mkdir(this.directory, { recursive: true });
    return {
      journal: await this.read<StoredJournal>('journal.json'),
      replica: await this.read<StoredReplica>('replica.json'),
    };
  }

  saveJournal(journal: StoredJournal): Promise<void> {
    return this.write('journal.json', journal);
  }

  saveReplica(replica: StoredReplica): Promise<void> {
    return this.write('replica.json', replica);
  }

  private async read<T>(name: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.directory, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  private async write(name: string, value: unknown): Promise<void> {
    const target = join(this.directory, name);
    const temp = `${target}.${randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(value), { flush: true });
    await rename(temp, target);
  }
}
