// The clock and the scheduler a worker thread's timing runs on: the flush policy and the batch of
// events posted to the primary. Injected, as room/refusal-log.ts and server/flood-control.ts take
// theirs, so that unit tests move time themselves instead of waiting for it. Runs in the worker
// threads (and in the tests, as a fake).

export interface WorkerClock {
  /** Milliseconds on a monotonic clock: a change of the wall clock moves no deadline. */
  now(): number;
  /** Runs `run` once, `ms` from now. */
  setTimeout(run: () => void, ms: number): void;
  /** Runs `run` once, right after the poll phase of this turn of the event loop. */
  setImmediate(run: () => void): void;
}

export const SYSTEM_CLOCK: WorkerClock = {
  now: () => performance.now(),
  setTimeout: (run, ms) => {
    setTimeout(run, ms);
  },
  setImmediate: (run) => {
    setImmediate(run);
  },
};
