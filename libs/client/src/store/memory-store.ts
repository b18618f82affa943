import {
  type LocalStore,
  type StoredJournal,
  type StoredNodeState,
  type StoredReplica,
  type StoredReplicaChange,
  replayReplica,
} from './local-store';

/**
 * Keeps the state in memory, as JSON text: what is saved is exactly what a durable store would
 * write, and a node reopened on the same MemoryStore starts from it (handy in tests). Appended
 * replica changes are kept beside the replica, as a file store's journal would be.
 */
export class MemoryStore implements LocalStore {
  private journal: string | undefined;
  private replica: string | undefined;
  private changes: string[] = [];

  load(): Promise<StoredNodeState> {
    return Promise.resolve({
      journal: this.journal === undefined ? undefined : (JSON.parse(this.journal) as StoredJournal),
      replica: this.replica === undefined ? undefined : this.loadReplica(this.replica),
    });
  }

  saveJournal(journal: StoredJournal): Promise<void> {
    this.journal = JSON.stringify(journal);
    return Promise.resolve();
  }

  saveReplica(replica: StoredReplica): Promise<void> {
    this.replica = JSON.stringify(replica);
    this.changes = [];
    return Promise.resolve();
  }

  appendReplica(change: StoredReplicaChange): Promise<void> {
    if (this.replica === undefined) return Promise.reject(new Error('no replica to append to'));
    this.changes.push(JSON.stringify(change));
    return Promise.resolve();
  }

  private loadReplica(text: string): StoredReplica {
    return replayReplica(
      JSON.parse(text) as StoredReplica,
      this.changes.map((c) => JSON.parse(c) as StoredReplicaChange),
    );
  }
}
