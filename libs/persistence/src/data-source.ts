import { DataSource, type DataSourceOptions } from 'typeorm';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { ApiKeys1765200000000 } from './migrations/1765200000000-api-keys';
import { ChangeStreamIndexes1765000000000 } from './migrations/1765000000000-change-stream-indexes';
import { OpLogRetention1766100000000 } from './migrations/1766100000000-op-log-retention';
import { OpLogHistoryIndexes1767300000000 } from './migrations/1767300000000-op-log-history-indexes';
import { CompactedThrough1767300000001 } from './migrations/1767300000001-compacted-through';
import { TopicPartitions1768300000000 } from './migrations/1768300000000-topic-partitions';
import { ChangeCorrections1768400000000 } from './migrations/1768400000000-change-corrections';
import { CompactClocks1768500000000 } from './migrations/1768500000000-compact-clocks';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sync';

/** Channel the projector notifies on commit; payload is `${topic}:${partition}:${nextOffset}`. */
export const APPLIED_CHANNEL = 'sync_applied';

export const MIGRATIONS = [
  InitialSchema1764000000000,
  ChangeStreamIndexes1765000000000,
  ApiKeys1765200000000,
  OpLogRetention1766100000000,
  OpLogHistoryIndexes1767300000000,
  CompactedThrough1767300000001,
  TopicPartitions1768300000000,
  ChangeCorrections1768400000000,
  CompactClocks1768500000000,
];

export interface DataSourceSettings {
  url: string;
  /** pg pool size. */
  poolSize?: number;
  applicationName?: string;
}

export function dataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    // The schema is the migrations' (raw SQL repositories, no entities).
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    extra: {
      max: settings.poolSize ?? 10,
      application_name: settings.applicationName ?? 'sync',
      connectionTimeoutMillis: 5000,
    },
  };
}

export function createDataSource(settings: DataSourceSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}
