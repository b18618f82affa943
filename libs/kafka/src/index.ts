export * from './kafka-settings';
export * from './library-partition';
