import { useEffect, useState } from 'preact/hooks';
import { type ApiError, onUnauthorized } from './api';
import { type Capabilities, NONE, capabilitiesOf } from './capabilities';
import { type Route, href, parseRoute } from './route';
import { forgetKey, readKey } from './session-key';
import { Notice } from './ui';
import { KeyPrompt } from './views/key-prompt';
import { LibraryView } from './views/library';
import { Overview } from './views/overview';
import { RecordView } from './views/record';
import { RelationView } from './views/relation';
import { TimeTravelView } from './views/time-travel';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** What the server offers, from its OpenAPI document (open, like the page's assets). */
function useCapabilities(): Capabilities | null {
  const [capabilities, setCapabilities] = useState<Capabilities | null>(null);
  useEffect(() => {
    fetch('/docs-json')
      .then((response) => (response.ok ? response.json() : null))
      .then(capabilitiesOf, () => NONE)
      .then(setCapabilities, () => setCapabilities(NONE));
  }, []);
  return capabilities;
}

export function App() {
  const route = useRoute();
  const capabilities = useCapabilities();
  const [refused, setRefused] = useState<ApiError | null>(null);
  // Bumped when the key changes, so every view loads again with it.
  const [session, setSession] = useState(0);
  useEffect(() => onUnauthorized(setRefused), []);
  const hasKey = readKey() !== null;

  return (
    <>
      <header class="top">
        <a class="brand" href={href({ view: 'overview' })}>
          Sync inspector
        </a>
        <nav>
          <a href={href({ view: 'overview' })}>Overview</a>
        </nav>
        <span class="key-state">
          {hasKey ? (
            <>
              key set{' '}
              <button
                type="button"
                onClick={() => {
                  forgetKey();
                  setSession((n) => n + 1);
                }}
              >
                forget key
              </button>
            </>
          ) : (
            'no key'
          )}
        </span>
      </header>
      <main key={session}>
        {refused !== null ? (
          <KeyPrompt
            error={refused}
            onSaved={() => {
              setRefused(null);
              setSession((n) => n + 1);
            }}
          />
        ) : capabilities === null ? null : (
          <View route={route} capabilities={capabilities} />
        )}
      </main>
    </>
  );
}

function View({ route, capabilities }: { route: Route; capabilities: Capabilities }) {
  switch (route.view) {
    case 'overview':
      return <Overview />;
    case 'library':
      return <LibraryView key={route.libraryId} route={route} />;
    case 'record':
      return (
        <RecordView
          key={`${route.libraryId} ${route.recordId}`}
          route={route}
          capabilities={capabilities}
        />
      );
    case 'relation':
      return <RelationView route={route} capabilities={capabilities} />;
    case 'time':
      return <TimeTravelView key={route.libraryId} route={route} capabilities={capabilities} />;
    case 'unknown':
      return (
        <Notice>
          Nothing here. <a href={href({ view: 'overview' })}>Back to the overview</a>.
        </Notice>
      );
  }
}
