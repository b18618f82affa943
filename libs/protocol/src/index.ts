export * from './json';
export * from './json-limits';
export * from './uuid';
export * from './hlc';
export * from './schema';
export * from './operation';
export * from './merge';
export * from './text-pieces';
