import type { LocalStore, StoredJournal, StoredNodeState, StoredReplica } from './local-store';

/**
 * Keeps the state in memory, as JSON text: what is saved is exactly what a durable store would
 * write, and a node reopened on the same MemoryStore starts from it (handy in tests).
 */
export class MemoryStore implements LocalStore {
  private journal: string | undefined;
  private replica: string | undefined;

  load(): Promise<StoredNodeState> {
    return Promise.resolve({
      journal: this.journal === undefined ? undefined : (JSON.parse(this.journal) as StoredJournal),
      replica: this.replica === undefined ? undefined : (JSON.parse(this.replica) as StoredReplica),
    });
  }

  saveJournal(journal: StoredJournal): Promise<void> {
    this.journal = JSON.stringify(journal);
    return Promise.resolve();
  }

  saveReplica(replica: StoredReplica): Promise<void> {
    this.replica = JSON.stringify(replica);
    return Promise.resolve();
  }
}
