import { HANDLING_ALLOWANCE_MS } from '@sync/platform';
import { INGEST_ANSWER_DEADLINES_MS, ingestAnswerDeadlines } from './answer-deadlines';
import { readIngestConfig } from './ingest.config';

describe('ingest answer deadlines', () => {
  it('outlast the outcome wait of a publish, with the default settings', () => {
    const config = readIngestConfig({});
    expect(INGEST_ANSWER_DEADLINES_MS).toEqual(ingestAnswerDeadlines(config.publish));
    expect(INGEST_ANSWER_DEADLINES_MS.publish).toBe(40_000 + HANDLING_ALLOWANCE_MS);
  });

  it('follow a configured outcome timeout', () => {
    const config = readIngestConfig({
      INGEST_PUBLISH_TIMEOUT_MS: '60000',
      INGEST_TRANSACTION_TIMEOUT_MS: '90000',
    });
    expect(ingestAnswerDeadlines(config.publish).publish).toBe(60_000 + HANDLING_ALLOWANCE_MS);
  });
});
