export * from './errors';
export * from './model-types';
export * from './sync-node';
export type { RelationFilter } from './replica/local-replica';
export * from './replica/slice-codec';
export * from './replica/snapshot-slice';
export * from './store/local-store';
export * from './store/memory-store';
export * from './store/json-file-store';
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
  loadSchema,
  parseSchema,
  formatHybrid,
  hybridFromMillis,
  hybridToMillis,
} from './protocol';
