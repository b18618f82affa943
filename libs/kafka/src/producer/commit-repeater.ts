import type { Kafka } from 'kafkajs';
import { TRANSACTION_COORDINATOR, coordinatorClient } from './kafkajs-internals';
import type { Attempt } from './lanes';
import { type EndTxnRequest, commitFailureOutcome, outcomeRetryDelay } from './publish-outcome';
import { OutcomeUnknown, errorTypes } from './publish-errors';

/**
 * Repeats a commit whose answer was lost until the coordinator answers for good: it answers a
 * repeated commit of a committed transaction with success, and INVALID_TXN_STATE (or a fencing
 * error) once it aborted it. Throws OutcomeUnknown when the send is abandoned or the producer
 * closes first.
 */
export async function repeatCommit(
  kafka: Kafka,
  request: EndTxnRequest,
  attempt: Attempt,
  isClosed: () => boolean,
): Promise<void> {
  const cluster = coordinatorClient(kafka);
  try {
    for (let round = 0; !attempt.abandoned; round++) {
      await sleep(outcomeRetryDelay(round));
      if (attempt.abandoned) break;
      try {
        await cluster.connect();
        const coordinator = await cluster.findGroupCoordinator({
          groupId: request.transactionalId,
          coordinatorType: TRANSACTION_COORDINATOR,
        });
        await coordinator.endTxn({
          transactionalId: request.transactionalId,
          producerId: request.producerId.toString(),
          producerEpoch: request.producerEpoch,
          transactionResult: true,
        });
        return;
      } catch (error) {
        if (commitFailureOutcome(1, errorTypes(error)) === 'not-committed') throw error;
        if (isClosed()) break;
      }
    }
    throw new OutcomeUnknown();
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
