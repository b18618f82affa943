import { kafkaClientConfig } from '@sync/kafka';
import { redactUrl } from '@sync/persistence';
import { type ProjectorConfig, readProjectorConfig } from './projector.config';
import {
  ProjectionRebuild,
  RebuildInterrupted,
  describeDifferences,
  rebuildSettings,
} from './rebuild/projection-rebuild.service';
import { REBUILD_USAGE, RebuildUsageError, parseRebuildArgs } from './rebuild/rebuild-options';
import { ProgressReporter } from './rebuild/rebuild-progress';

/** Rebuilds the projection from the topic and switches to it; see REBUILD_USAGE. */
async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseRebuildArgs>;
  let config: ProjectorConfig;
  try {
    parsed = parseRebuildArgs(argv);
    if (parsed.help) {
      process.stdout.write(`${REBUILD_USAGE}\n`);
      return 0;
    }
    config = readProjectorConfig(process.env);
  } catch (error) {
    const usage = error instanceof RebuildUsageError ? `\n\n${REBUILD_USAGE}` : '';
    process.stderr.write(`${describe(error)}${usage}\n`);
    return 2;
  }
  const options = parsed.options;

  let reporter: ProgressReporter | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    reporter?.message('rebuild: stopping; the new tables will be dropped');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = (line: string) =>
    reporter ? reporter.message(line) : process.stderr.write(`${line}\n`);
  const rebuild = new ProjectionRebuild(
    rebuildSettings(config),
    { ...kafkaClientConfig(config.kafka), clientId: `${config.kafka.clientId}-rebuild` },
    options,
    {
      log,
      interrupted: () => interrupted,
      onProgress: (snapshot) => {
        reporter = new ProgressReporter(
          snapshot,
          (text) => process.stderr.write(text),
          process.stderr.isTTY === true,
        );
        reporter.start();
      },
    },
  );
  log(
    `rebuild: ${config.kafka.operationsTopic} into schema ${rebuild.shadowSchema} of ${redactUrl(config.databaseUrl)}` +
      (options.dryRun ? ' (dry run: no switch)' : ''),
  );
  try {
    const result = await rebuild.run();
    reporter?.stop();
    reporter = undefined;
    if (result.differences) {
      const same = result.differences.every((d) => d.onlyLive === 0 && d.onlyRebuilt === 0);
      log(`rebuild: compared with the live tables (${same ? 'identical' : 'they differ'}):`);
      for (const line of describeDifferences(result.differences)) log(line);
      log(`rebuild: dry run, nothing switched; the new tables were dropped`);
    } else if (result.retiredSchema !== null && !options.dropOld) {
      log(`rebuild: the previous tables are kept in schema ${result.retiredSchema}; drop it with`);
      log(`  DROP SCHEMA ${result.retiredSchema} CASCADE;`);
    }
    process.stdout.write(
      `${JSON.stringify({ ...result, retiredSchema: options.dropOld ? null : result.retiredSchema })}\n`,
    );
    return 0;
  } catch (error) {
    reporter?.stop();
    reporter = undefined;
    if (error instanceof RebuildInterrupted) {
      log('rebuild: interrupted before the switch; the live tables are untouched');
      return 130;
    }
    log(`rebuild failed, the live tables are untouched: ${describe(error)}`);
    return 1;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rebuild failed: ${describe(error)}\n`);
    process.exit(1);
  },
);
