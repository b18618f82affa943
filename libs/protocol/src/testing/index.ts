export * from './operation-builders';
