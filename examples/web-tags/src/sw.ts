/*
 * Keeps the app shell (page, script, styles, config) so the app opens offline: cache first,
 * refreshed from the network when it answers. Requests to the sync service (other origins) are
 * not touched: the client's outbox handles being offline.
 */

/** The few service-worker types used (the WebWorker lib clashes with the DOM lib of the page). */
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
const worker = self as unknown as {
  location: Location;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  addEventListener(type: string, listener: (event: FetchEvent) => void): void;
};

const CACHE = 'web-tags-shell-v1';
const SHELL = ['./', './index.html', './main.js', './main.css', './config.json'];

worker.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

worker.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== worker.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      const network = fetch(event.request)
        .then((response) => {
          if (response.ok) void cache.put(event.request, response.clone());
          return response;
        })
        .catch(() => undefined);
      return cached ?? (await network) ?? new Response('offline', { status: 503 });
    }),
  );
});
