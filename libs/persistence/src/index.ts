export * from './data-source';
export * from './database-admin';
export * from './projection/sql-client';
export * from './projection/projection-rows';
export * from './projection/projection.repository';
export * from './projection/partition-offsets.repository';
export * from './api-keys/api-keys.repository';
export * from './retention/retention.repository';
