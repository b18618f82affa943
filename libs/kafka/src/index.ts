export * from './kafka-settings';
export * from './library-partition';
export * from './publish-plan';
export * from './operation-producer';
export * from './topic-probe';
export * from './topic-offsets';
