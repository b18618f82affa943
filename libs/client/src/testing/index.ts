export * from './in-memory-sync-server';
