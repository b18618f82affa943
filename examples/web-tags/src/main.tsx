import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  IndexedDbStore,
  LiveSync,
  type RecordView,
  StoreBusyError,
  SyncHttpTransport,
  SyncNode,
  type SyncReport,
} from '@sync/client/browser';

/*
 * A Spacedrive-like library in the browser: objects (files) with tags and albums. Every edit is a
 * local op (applied at once, kept in IndexedDB); LiveSync pushes and pulls whenever the service
 * is reachable, and the header shows what is pending and whether the last sync was verified
 * against the server's digest.
 */

interface Config {
  ingestUrl: string;
  queryUrl: string;
  libraryId: string;
  apiKey?: string;
}

interface SyncStatus {
  lastSync: string | null;
  verified: boolean | null;
  error: string | null;
  stream: string;
}

async function loadConfig(): Promise<Config> {
  const config = (await (await fetch('./config.json')).json()) as Config;
  const library = new URLSearchParams(location.search).get('library');
  return library ? { ...config, libraryId: library } : config;
}

async function start(): Promise<void> {
  if ('serviceWorker' in navigator) {
    await navigator.serviceWorker.register('./sw.js').catch(() => undefined);
  }
  const config = await loadConfig();
  const headers: Record<string, string> = config.apiKey
    ? { authorization: `Bearer ${config.apiKey}` }
    : {};
  const transport = new SyncHttpTransport({
    ingestUrl: config.ingestUrl,
    queryUrl: config.queryUrl,
    headers,
    retry: { attempts: 2, baseDelayMs: 200, maxDelayMs: 1000 },
  });
  const root = document.getElementById('app')!;
  const name = `web-tags:${config.libraryId}`;
  // One tab per device syncs: another tab holding the store's Web Lock makes this one wait.
  let store = new IndexedDbStore(name, { wait: false });
  try {
    await store.load();
  } catch (error) {
    if (!(error instanceof StoreBusyError)) throw error;
    root.textContent = 'This library is open in another tab: waiting for it to close…';
    store = new IndexedDbStore(name);
  }
  const node = await SyncNode.open({ libraryId: config.libraryId, transport, store });
  // A new device starts from the server's snapshot rather than the whole op log (when online).
  if (node.pulledThrough === null && node.outbox().length === 0) {
    await node.bootstrapFromSnapshot().catch(() => undefined);
  }
  root.textContent = ''; // the placeholder
  render(<App node={node} config={config} />, root);
  addEventListener('pagehide', () => void node.flush());
}

function App({ node, config }: { node: SyncNode; config: Config }) {
  const [, setVersion] = useState(0);
  const refresh = () => setVersion((v) => v + 1);
  const [status, setStatus] = useState<SyncStatus>({
    lastSync: null,
    verified: null,
    error: null,
    stream: 'connecting',
  });
  const [live, setLive] = useState<LiveSync | null>(null);

  useEffect(() => {
    const sync = LiveSync.start(node, {
      queryUrl: config.queryUrl,
      headers: config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {},
      onSync: (report: SyncReport) => {
        setStatus((s) => ({
          ...s,
          lastSync: new Date().toISOString(),
          verified: report.verified,
          error: null,
        }));
        refresh();
      },
      onError: (error) => {
        setStatus((s) => ({ ...s, error: String(error) }));
        refresh();
      },
      onState: (state) => setStatus((s) => ({ ...s, stream: state.state })),
    });
    setLive(sync);
    const online = () => sync.kick();
    addEventListener('online', online);
    return () => {
      removeEventListener('online', online);
      sync.stop();
    };
  }, [node]);

  /** Runs an edit, shows it at once, and asks for a sync. */
  const edit = (action: () => Promise<unknown>) => {
    action()
      .catch((error: unknown) => setStatus((s) => ({ ...s, error: String(error) })))
      .finally(() => {
        refresh();
        live?.kick();
      });
  };

  const objects = node.records('Object');
  const tags = node.records('Tag');
  const albums = node.records('Album');
  const linked = (relation: 'TagOnObject' | 'ObjectInAlbum', item: string, group: string) =>
    node.relations({ relation, item, group }).length > 0;
  const digest = node.digest();
  const pending = node.outbox().length;

  return (
    <>
      <header
        id="status"
        data-pending={pending}
        data-unconfirmed={node.unconfirmed().length}
        data-cursor={node.pulledThrough ?? ''}
        data-verified={String(status.verified)}
        data-digest={digest.digest}
        data-last-sync={status.lastSync ?? ''}
        data-online={String(navigator.onLine)}
        data-error={status.error ?? ''}
      >
        <b>web-tags</b>
        <span class={pending > 0 ? 'bad' : 'ok'}>{pending} pending</span>
        <span class="dim">
          last sync {status.lastSync ? new Date(status.lastSync).toLocaleTimeString() : 'never'}
        </span>
        <span class={status.verified ? 'ok' : 'dim'}>
          {status.verified === true
            ? 'verified ✓'
            : status.verified === false
              ? 'digest mismatch'
              : 'not verified'}{' '}
          <code>{digest.digest.slice(7, 19)}</code>
        </span>
        <span class="dim">
          {navigator.onLine ? status.stream : 'offline'} · offset {node.pulledThrough ?? '–'}
        </span>
        <button id="sync-now" onClick={() => live?.kick()}>
          Sync now
        </button>
        {status.error && <span class="bad dim">{status.error.slice(0, 80)}</span>}
      </header>
      <main>
        <section>
          <h2>Objects ({objects.length})</h2>
          <AddForm
            id="add-object"
            placeholder="file name, e.g. cat.jpg"
            onAdd={(name) => edit(() => node.create('Object', { note: name, favorite: false }))}
          />
          {objects.map((object) => (
            <div class="object" key={object.id} data-object={object.id}>
              <Rename
                value={text(object.data.note)}
                onRename={(note) => edit(() => node.update('Object', object.id, { note }))}
              />
              {tags.map((tag) => {
                const on = linked('TagOnObject', object.id, tag.id);
                return (
                  <button
                    class={`chip${on ? ' on' : ''}`}
                    key={tag.id}
                    data-tag={tag.id}
                    onClick={() =>
                      edit(() =>
                        on
                          ? node.unlink('TagOnObject', object.id, tag.id)
                          : node.link('TagOnObject', object.id, tag.id),
                      )
                    }
                  >
                    #{name(tag)}
                  </button>
                );
              })}
              {albums.map((album) => {
                const on = linked('ObjectInAlbum', object.id, album.id);
                return (
                  <button
                    class={`chip album${on ? ' on' : ''}`}
                    key={album.id}
                    data-album={album.id}
                    onClick={() =>
                      edit(() =>
                        on
                          ? node.unlink('ObjectInAlbum', object.id, album.id)
                          : node.link('ObjectInAlbum', object.id, album.id),
                      )
                    }
                  >
                    ▣ {name(album)}
                  </button>
                );
              })}
              <button class="delete" onClick={() => edit(() => node.delete('Object', object.id))}>
                delete
              </button>
            </div>
          ))}
        </section>
        <aside>
          <section>
            <h2>Tags</h2>
            <AddForm
              id="add-tag"
              placeholder="new tag"
              onAdd={(tag) => edit(() => node.create('Tag', { name: tag, color: '#5865f2' }))}
            />
            <ul>
              {tags.map((tag) => (
                <li key={tag.id} data-tag-row={tag.id}>
                  <Rename
                    value={name(tag)}
                    onRename={(value) => edit(() => node.update('Tag', tag.id, { name: value }))}
                  />
                  <button class="delete" onClick={() => edit(() => node.delete('Tag', tag.id))}>
                    ×
                  </button>
                </li>
              ))}
            </ul>
          </section>
          <section style="margin-top:16px">
            <h2>Albums</h2>
            <AddForm
              id="add-album"
              placeholder="new album"
              onAdd={(album) => edit(() => node.create('Album', { name: album }))}
            />
            <ul>
              {albums.map((album) => (
                <li key={album.id}>{name(album)}</li>
              ))}
            </ul>
          </section>
        </aside>
      </main>
    </>
  );
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');
const name = (record: RecordView) => text(record.data.name);

function AddForm(props: { id: string; placeholder: string; onAdd(value: string): void }) {
  const [value, setValue] = useState('');
  return (
    <form
      id={props.id}
      onSubmit={(event) => {
        event.preventDefault();
        if (value.trim() === '') return;
        props.onAdd(value.trim());
        setValue('');
      }}
    >
      <input
        placeholder={props.placeholder}
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit">Add</button>
    </form>
  );
}

/** Saves on Enter or when the field loses focus, if the text changed. */
function Rename(props: { value: string; onRename(value: string): void }) {
  return (
    <input
      class="name"
      value={props.value}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
      }}
      onBlur={(e) => {
        const value = e.currentTarget.value.trim();
        if (value !== '' && value !== props.value) props.onRename(value);
      }}
    />
  );
}

void start().catch((error: unknown) => {
  document.getElementById('app')!.textContent = `failed to start: ${String(error)}`;
});
