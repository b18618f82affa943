export * from './operation.types';
export * from './operation-validator';
export * from './canonical-json';
