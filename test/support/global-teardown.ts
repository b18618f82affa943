import { runKafkaScript } from './infrastructure';

interface StartedState {
  __syncStarted?: string[];
  __syncContainers?: { stop(): Promise<unknown> }[];
  __syncStopEmbedded?: () => Promise<void>;
}

export default async function globalTeardown(): Promise<void> {
  const state = globalThis as StartedState;
  if (state.__syncStarted?.includes('kafka-script') && process.env.KEEP_KAFKA !== 'true') {
    await runKafkaScript('stop');
  }
  for (const container of state.__syncContainers ?? []) await container.stop();
  await state.__syncStopEmbedded?.();
}
