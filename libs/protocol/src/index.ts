export * from './json';
export * from './uuid';
export * from './hlc';
export * from './schema';
export * from './operation';
export * from './merge';
