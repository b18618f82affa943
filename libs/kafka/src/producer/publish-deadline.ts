import type { Attempt, Lane } from './lanes';
import { mayAbandon } from './publish-outcome';
import { DeadlineExceeded, OutcomeUnknown } from './publish-errors';

/**
 * The send's result, or its failure. At the publish deadline the send is abandoned only if
 * nothing that could store the batch has been written yet (mayAbandon); closing the tap in the
 * same step guarantees nothing is written afterwards, so "not accepted" is then the truth.
 * Otherwise the send goes on learning its outcome until the outcome deadline, and only then
 * is cut off and reported as unknown.
 */
export function awaitOutcome<T>(
  lane: Lane,
  work: Promise<T>,
  attempt: Attempt,
  deadline: number,
  outcomeDeadline: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const giveUp = (error: Error) => {
      attempt.abandoned = true;
      lane.tap?.close();
      reject(error);
    };
    const atOutcomeDeadline = () => giveUp(new OutcomeUnknown());
    const atPublishDeadline = () => {
      const tap = lane.tap;
      // A tap closed by close() still tells what was written before.
      if (tap === null || mayAbandon(lane.kind, tap)) {
        giveUp(new DeadlineExceeded());
      } else {
        timer = setTimeout(atOutcomeDeadline, Math.max(0, outcomeDeadline - Date.now()));
      }
    };
    let timer = setTimeout(atPublishDeadline, Math.max(0, deadline - Date.now()));
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
