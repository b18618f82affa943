/* Entry point for browsers and web views: the isomorphic core and the IndexedDB store. */
export * from './index';
export * from './store/indexeddb-store';
