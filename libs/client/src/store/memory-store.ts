import {
  type LocalStore,
  type StoredJournal,
  type StoredNodeState,
  type StoredReplica,
  type StoredReplicaChange,
  type StoredReplicaHeader,
  replayReplica,
} from './local-store';
import { type StoredSliceRow, storedSliceRows } from '../replica/slice-codec';
import { ReplicaLineReader, replicaLines } from './replica-lines';

/**
 * Keeps the state in memory, as JSON text: what is saved is exactly what a durable store would
 * write, and a node reopened on the same MemoryStore starts from it (handy in tests). The
 * replica is kept as one line per row (replica-lines), never as one string, which a large
 * replica would outgrow. Appended replica changes are kept beside the replica, as a file
 * store's journal would be.
 */
export class MemoryStore implements LocalStore {
  private journal: string | undefined;
  private replica: string[] | undefined;
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
    return this.saveReplicaRows(replica, storedSliceRows(replica.slice));
  }

  saveReplicaRows(header: StoredReplicaHeader, rows: Iterable<StoredSliceRow>): Promise<void> {
    this.replica = [...replicaLines(header, rows)];
    this.changes = [];
    return Promise.resolve();
  }

  appendReplica(change: StoredReplicaChange): Promise<void> {
    if (this.replica === undefined) return Promise.reject(new Error('no replica to append to'));
    this.changes.push(JSON.stringify(change));
    return Promise.resolve();
  }

  private loadReplica(lines: readonly string[]): StoredReplica {
    const reader = new ReplicaLineReader();
    for (const line of lines) reader.add(line);
    return replayReplica(
      reader.finish(),
      this.changes.map((c) => JSON.parse(c) as StoredReplicaChange),
    );
  }
}
