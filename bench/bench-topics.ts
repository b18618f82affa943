import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * Creates the benchmark's topics and waits until every partition has a leader. kafkajs's own
 * `waitForLeaders` gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a busy broker
 * answers for a moment after creating a topic; this keeps asking for up to `timeoutMs`.
 */
export async function createBenchTopics(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 60_000,
): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      if (
        found.length === names.length &&
        found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      ) {
        return;
      }
      last = 'partitions without a leader';
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`, {
        cause: last,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
