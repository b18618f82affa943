export * from './merge.types';
export * from './merge-engine';
export * from './relation-visibility';
export * from './materialize';
export * from './state-digest';
export * from './supersession';
export * from './compact-clocks';
