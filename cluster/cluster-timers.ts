// The timers the cluster's room runs on: the heartbeat and the stream reader's retries. Injected,
// so that the unit tests (test/cluster/cluster-room.test.ts) move time themselves.

import { setTimeout as sleep } from 'node:timers/promises';

export interface ClusterTimers {
  every(run: () => void, ms: number): { stop(): void };
  /** Resolves after `ms`; MUST NOT keep the process alive. */
  delay(ms: number): Promise<void>;
}

export const REAL_TIMERS: ClusterTimers = {
  every(run, ms) {
    const interval = setInterval(run, ms);
    return { stop: () => clearInterval(interval) };
  },
  delay: (ms) => sleep(ms, undefined, { ref: false }),
};
