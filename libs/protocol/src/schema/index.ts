export * from './schema.types';
export * from './schema';
export * from './schema-parser';
export * from './default-schema';
export * from './schema-file';
export { isIsoDatetime } from './value-checks';
