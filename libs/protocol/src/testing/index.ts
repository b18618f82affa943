export * from './operation-builders';
export * from './op-arbitrary';
