import type { LocalStore, StoredJournal, StoredNodeState, StoredReplica } from './local-store';

/*
 * The slice of the IndexedDB API this store uses, typed here so the client compiles without the
 * DOM library (whose fetch and stream types clash with Node's); window.indexedDB and
 * fake-indexeddb both fit.
 */
interface IdbRequest<T = unknown> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbObjectStore {
  get(key: string): IdbRequest;
  put(value: unknown, key: string): IdbRequest;
}
interface IdbTransaction {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  transaction(
    store: string,
    mode: 'readonly' | 'readwrite',
    options?: { durability: 'strict' | 'relaxed' | 'default' },
  ): IdbTransaction;
  createObjectStore(name: string): unknown;
  close(): void;
  onversionchange: (() => void) | null;
}
export interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
  deleteDatabase(name: string): IdbRequest;
}

/** The parts of the Web Locks API the store uses (navigator.locks). */
export interface StoreLocks {
  request(
    name: string,
    options: { mode: 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

export interface IndexedDbStoreOptions {
  /** Default: globalThis.indexedDB. */
  indexedDB?: IdbFactory;
  /** Default: navigator.locks when the browser has it; null = no lock (one tab only). */
  locks?: StoreLocks | null;
  /**
   * When another tab holds the store: wait until it closes it (default) or throw
   * StoreBusyError at once (ifAvailable), e.g. to show "open in another tab".
   */
  wait?: boolean;
}

/** Another tab (or window, or worker) of this origin has the store open. */
export class StoreBusyError extends Error {
  constructor(readonly storeName: string) {
    super(`local store ${storeName} is open in another tab`);
    this.name = 'StoreBusyError';
  }
}

const OBJECT_STORE = 'state';
const JOURNAL_KEY = 'journal';
const REPLICA_KEY = 'replica';

/**
 * LocalStore over IndexedDB: one database per store name, the journal (node id, clock, outbox)
 * and the replica (confirmed state, cursor) each one value, each save one readwrite transaction
 * that resolves on `complete` with strict durability. A save either commits whole or not at
 * all, so a tab closed mid-write reopens to the last committed journal and replica, and every
 * save that resolved is there.
 *
 * One tab owns the store at a time, through a Web Lock held from load() to close(): two tabs
 * each holding its own outbox would overwrite each other's journal. A Web Lock rather than a
 * BroadcastChannel election because the browser releases it when the owning tab closes or
 * crashes (no heartbeats, timeouts or split brain), and a waiting tab is granted it at once.
 */
export class IndexedDbStore implements LocalStore {
  private readonly factory: IdbFactory;
  private readonly locks: StoreLocks | null;
  private database: Promise<IdbDatabase> | undefined;
  private releaseLock: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly options: IndexedDbStoreOptions = {},
  ) {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IdbFactory }).indexedDB;
    if (factory === undefined) throw new Error('IndexedDbStore: no indexedDB in this runtime');
    this.factory = factory;
    this.locks =
      options.locks !== undefined
        ? options.locks
        : ((globalThis as { navigator?: { locks?: StoreLocks } }).navigator?.locks ?? null);
  }

  get databaseName(): string {
    return `local-first-sync:${this.name}`;
  }

  async load(): Promise<StoredNodeState> {
    await this.acquire();
    const db = await this.open();
    const tx = db.transaction(OBJECT_STORE, 'readonly');
    const store = tx.objectStore(OBJECT_STORE);
    const [journal, replica] = await Promise.all([
      request<StoredJournal | undefined>(store.get(JOURNAL_KEY)),
      request<StoredReplica | undefined>(store.get(REPLICA_KEY)),
    ]);
    return { journal, replica };
  }

  saveJournal(journal: StoredJournal): Promise<void> {
    return this.put(JOURNAL_KEY, journal);
  }

  saveReplica(replica: StoredReplica): Promise<void> {
    return this.put(REPLICA_KEY, replica);
  }

  /** Closes the database and lets the next tab in. Wait for the node's last save first. */
  async close(): Promise<void> {
    const db = this.database;
    this.database = undefined;
    if (db !== undefined) (await db.catch(() => undefined))?.close();
    this.releaseLock?.();
    this.releaseLock = undefined;
  }

  /** Removes the store's database (e.g. "forget this device"); closes it first. */
  async destroy(): Promise<void> {
    await this.close();
    await request(this.factory.deleteDatabase(this.databaseName));
  }

  private async put(key: string, value: StoredJournal | StoredReplica): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(OBJECT_STORE, 'readwrite', { durability: 'strict' });
    tx.objectStore(OBJECT_STORE).put(value, key);
    await committed(tx);
  }

  private open(): Promise<IdbDatabase> {
    this.database ??= new Promise<IdbDatabase>((resolve, reject) => {
      const opening = this.factory.open(this.databaseName, 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore(OBJECT_STORE);
      opening.onsuccess = () => {
        // Another tab upgrading the schema later: step aside instead of blocking it.
        opening.result.onversionchange = () => opening.result.close();
        resolve(opening.result);
      };
      opening.onerror = () => reject(asError(opening.error, 'indexedDB open failed'));
      opening.onblocked = () => reject(new Error(`${this.databaseName}: open blocked`));
    });
    return this.database;
  }

  private async acquire(): Promise<void> {
    if (this.locks === null || this.releaseLock !== undefined) return;
    const name = this.databaseName;
    const ifAvailable = this.options.wait === false;
    await new Promise<void>((granted, refused) => {
      this.locks!.request(name, { mode: 'exclusive', ifAvailable }, (lock) => {
        if (lock === null) {
          refused(new StoreBusyError(this.name));
          return Promise.resolve();
        }
        // Held until close(); the browser drops it when the tab goes away.
        const held = new Promise<void>((release) => (this.releaseLock = release));
        granted();
        return held;
      }).catch(refused);
    });
  }
}

function request<T>(req: IdbRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(asError(req.error, 'indexedDB request failed'));
  });
}

function committed(tx: IdbTransaction): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(asError(tx.error, 'indexedDB transaction failed'));
    tx.onabort = () => reject(asError(tx.error, 'indexedDB transaction aborted'));
  });
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(fallback);
}
