import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ApiKeysRepository } from '@sync/persistence';
import {
  AuthModule,
  type HealthCheck,
  type HealthChecksFactory,
  HealthModule,
  MetricsModule,
} from '@sync/platform';
import { AppliedOffsetWatcher } from './applied-offset-watcher.service';
import { AsOfSnapshotService } from './as-of-snapshot.service';
import { AsOfRepository } from './as-of.repository';
import { ChangesController } from './changes.controller';
import { ChangesRepository } from './changes.repository';
import { ChangesService } from './changes.service';
import { DigestController } from './digest.controller';
import { DigestService } from './digest.service';
import { HistoryRepository } from './history.repository';
import { LibraryReadPipe } from './library-read';
import { LibrariesController } from './libraries.controller';
import { LibrariesRepository } from './libraries.repository';
import { OperationsController } from './operations.controller';
import { OperationsRepository } from './operations.repository';
import { PartitionLocator } from './partition-locator.service';
import { PipelineController } from './pipeline.controller';
import { PipelineService } from './pipeline.service';
import { PrimaryDatabase } from './primary-database.service';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import { ReadYourWritesService } from './read-your-writes.service';
import { RecordsController } from './records.controller';
import { RecordsRepository } from './records.repository';
import { RelationsController } from './relations.controller';
import { RelationsRepository } from './relations.repository';
import { ReplicaLagService } from './replica-lag.service';
import { SchemaController } from './schema.controller';
import { SnapshotController } from './snapshot.controller';
import { SnapshotRepository } from './snapshot.repository';
import { SnapshotService } from './snapshot.service';

/** Config and the read pool, global so the health module can check the database. */
@Global()
@Module({})
class QueryDatabaseModule {
  static register(config: QueryConfig): DynamicModule {
    return {
      module: QueryDatabaseModule,
      providers: [
        { provide: QUERY_CONFIG, useValue: config },
        { provide: QueryDatabase, useFactory: () => new QueryDatabase(config) },
      ],
      exports: [QUERY_CONFIG, QueryDatabase],
    };
  }
}

const healthChecks: HealthChecksFactory = {
  useFactory: (database: QueryDatabase): HealthCheck[] => [
    { name: 'postgres', check: () => database.ping() },
  ],
  inject: [QueryDatabase],
};

@Module({})
export class QueryModule {
  static register(config: QueryConfig): DynamicModule {
    return {
      module: QueryModule,
      imports: [
        QueryDatabaseModule.register(config),
        MetricsModule.register('query'),
        AuthModule.register({
          settings: config.auth,
          store: () => new ApiKeysRepository(config.primaryDatabaseUrl, 2, 'sync-query-auth'),
          adminRoutes: true,
        }),
        // Ready = the database answers; Kafka is only needed to place libraries never seen.
        HealthModule.register(healthChecks),
      ],
      controllers: [
        LibrariesController,
        RecordsController,
        RelationsController,
        OperationsController,
        SnapshotController,
        ChangesController,
        DigestController,
        PipelineController,
        SchemaController,
      ],
      providers: [
        LibrariesRepository,
        RecordsRepository,
        RelationsRepository,
        OperationsRepository,
        PartitionLocator,
        AppliedOffsetWatcher,
        ReadYourWritesService,
        SnapshotRepository,
        SnapshotService,
        ChangesRepository,
        ChangesService,
        AsOfRepository,
        AsOfSnapshotService,
        HistoryRepository,
        DigestService,
        LibraryReadPipe,
        PipelineService,
        ReplicaLagService,
        PrimaryDatabase,
      ],
    };
  }
}
