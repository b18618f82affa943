export * from './ntp64';
export * from './clock-order';
export * from './hybrid-logical-clock';
