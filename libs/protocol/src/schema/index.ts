export * from './schema.types';
export * from './schema';
export * from './schema-parser';
export * from './default-schema';
export { isIsoDatetime, isStorableText } from './value-checks';
