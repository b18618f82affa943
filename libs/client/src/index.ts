/*
 * The isomorphic core: runs wherever fetch, Web Crypto's randomUUID and TextEncoder exist (Node
 * >= 20.11, browsers, web views). Nothing here may import a `node:` module; storage that needs
 * the platform lives in the entry points `./node` and `./browser`.
 */
export * from './errors';
export * from './model-types';
export * from './sync-node';
export type { RelationFilter } from './replica/local-replica';
export * from './replica/slice-codec';
export * from './replica/snapshot-slice';
export * from './store/local-store';
export * from './store/memory-store';
export * from './transport/sync-transport';
export * from './transport/http-transport';
export type { RetryOptions } from './transport/retry';
export {
  type MaterializedState,
  type Operation,
  type RecordView,
  type RelationView,
  Schema,
  defaultSchema,
  parseSchema,
  formatHybrid,
  hybridFromMillis,
  hybridToMillis,
} from './protocol';
export * from './live/sse-parser';
export * from './live/change-stream';
export * from './live/live-sync';
