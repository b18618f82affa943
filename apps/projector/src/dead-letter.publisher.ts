import type { DeadLetterProducer, OutgoingRecord } from '@sync/kafka';
import type { DecodedMessage } from './message-decoder';

export type DeadLetter = Extract<DecodedMessage, { kind: 'dead' }>;

/** Header names of a dead letter (documented in apps/projector/README.md). */
export const DEAD_LETTER_HEADERS = {
  reason: 'reason',
  message: 'message',
  topic: 'original-topic',
  partition: 'original-partition',
  offset: 'original-offset',
  key: 'original-key',
} as const;

/** The dead-letter message for `letter`: original key and value bytes, provenance in headers. */
export function deadLetterMessage(
  topic: string,
  partition: number,
  letter: DeadLetter,
): OutgoingRecord {
  const headers: Record<string, string | Buffer> = {
    [DEAD_LETTER_HEADERS.reason]: letter.reason,
    [DEAD_LETTER_HEADERS.message]: letter.detail,
    [DEAD_LETTER_HEADERS.topic]: topic,
    [DEAD_LETTER_HEADERS.partition]: String(partition),
    [DEAD_LETTER_HEADERS.offset]: letter.offset.toString(10),
  };
  if (letter.key !== null) headers[DEAD_LETTER_HEADERS.key] = letter.key;
  return { key: letter.key, value: letter.value, headers };
}

/**
 * Sends dead letters and waits for every in-sync replica. Called inside the batch transaction,
 * before it commits: a message is never marked applied without its dead letter being durable. If
 * the commit then fails, the retry sends it again, so consumers of the dead-letter topic should
 * treat (original-topic, original-partition, original-offset) as the identity of a letter.
 */
export class DeadLetterPublisher {
  constructor(private readonly producer: DeadLetterProducer) {}

  publish(topic: string, partition: number, letters: readonly DeadLetter[]): Promise<void> {
    return this.producer.send(letters.map((letter) => deadLetterMessage(topic, partition, letter)));
  }
}
