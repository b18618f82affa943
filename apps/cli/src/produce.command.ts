import { readFileSync } from 'node:fs';
import { OperationProducer, kafkaClientConfig, readKafkaSettings } from '@sync/kafka';
import { EnvReader } from '@sync/platform';
import { type Operation, validateOperation } from '@sync/protocol';
import { type Io, intOption, libraryArg } from './cli-args';
import { CliError, type SyncHttp } from './cli-http';

export const PRODUCE_USAGE = `  produce <libraryId> [file|-]   Send ops from a JSON array or NDJSON file (or stdin) in
                                 batches, through the ingest service, or with --kafka straight
                                 to the topic. Prints {"accepted","lastOffset"} at the end.
      --kafka                    Produce to Kafka (KAFKA_BROKERS, SYNC_TOPIC, SASL/SSL env vars)
      --batch <n>                Ops per batch (1..10000, default 1000)`;

export const PRODUCE_OPTIONS = {
  kafka: { type: 'boolean' },
  batch: { type: 'string' },
} as const;

export interface ProduceValues {
  kafka?: boolean;
  batch?: string;
}

/** A JSON array, or NDJSON (one op per line); blank lines ignored. */
export function parseOperations(text: string, source: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.length === 0) return [];
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed;
    } catch (error) {
      throw new CliError(`${source}: not valid JSON: ${(error as Error).message}`);
    }
  }
  return trimmed.split('\n').flatMap((line, index) => {
    if (line.trim().length === 0) return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (error) {
      throw new CliError(
        `${source} line ${index + 1}: not valid JSON: ${(error as Error).message}`,
      );
    }
  });
}

/** `produce`: ops from a file or stdin, in batches, through the ingest or straight to Kafka. */
export async function produce(
  http: SyncHttp,
  args: string[],
  values: ProduceValues,
  io: Io,
): Promise<void> {
  const libraryId = libraryArg(args, true);
  const file = args[1] ?? '-';
  const batchSize = intOption(values.batch, 'batch', 1000, 1, 10000);
  let text: string;
  try {
    text = file === '-' ? io.stdin() : readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const ops = parseOperations(text, file === '-' ? 'stdin' : file);
  if (ops.length === 0) throw new CliError(`${file}: no operations`);
  let sent = 0;
  let lastOffset = '';
  let partition = -1;
  const report = () => io.progress(`produce: ${sent}/${ops.length} ops`);
  if (values.kafka) {
    // The same shape check the ingest does, so nothing malformed reaches the topic from here.
    ops.forEach((op, index) => {
      const checked = validateOperation(op, null, { checkSchema: false });
      if (!checked.ok) {
        const why = checked.errors.map((e) => `${e.path || '(op)'} ${e.message}`).join('; ');
        throw new CliError(`op ${index} is not a valid operation: ${why}`);
      }
    });
    const reader = new EnvReader(io.env);
    const settings = readKafkaSettings(reader, 'sync-cli');
    reader.done('cli');
    const producer = new OperationProducer({
      client: kafkaClientConfig(settings),
      topic: settings.operationsTopic,
    });
    try {
      for (let start = 0; start < ops.length; start += batchSize) {
        const batch = ops.slice(start, start + batchSize) as Operation[];
        const result = await producer.publish(libraryId, batch);
        sent += batch.length;
        lastOffset = result.lastOffset;
        partition = result.partition;
        report();
      }
    } finally {
      await producer.close();
    }
  } else {
    for (let start = 0; start < ops.length; start += batchSize) {
      const batch = ops.slice(start, start + batchSize);
      const result = await http.postOperations(libraryId, batch);
      sent += result.accepted;
      lastOffset = result.lastOffset;
      partition = result.partition;
      report();
    }
  }
  io.out(`${JSON.stringify({ accepted: sent, partition, lastOffset })}\n`);
}
