// The primary's side of delivery: collects the room's decisions during one turn of the event
// loop and posts each worker one 'deliver' message with its share, in the global order. A
// broadcast goes only to the workers with someone online when it was decided: at light load a
// message to an idle worker wakes a thread for nothing, on a core the others need.
// Runs in the primary thread only.

import { encodeText } from './bytes.ts';
import type { CloseReason } from '../room/close-reason.ts';
import { NOBODY, type Delivery } from '../room/delivery.ts';
import { workerOf, type DeliveryOp } from './messages.ts';

type PendingOp =
  | { readonly kind: 'admit'; readonly id: number }
  | { readonly kind: 'position'; readonly id: number }
  | {
      readonly kind: 'broadcast';
      readonly text: string;
      readonly except: number;
      readonly positioned: string | undefined;
      /** The workers with clients online when it was decided. */
      readonly receivers: readonly number[];
    }
  | { readonly kind: 'send'; readonly id: number; readonly text: string }
  | { readonly kind: 'close'; readonly id: number; readonly text: string | null; readonly reason: CloseReason };

export interface DeliveryTarget {
  /** Posts one batch to the worker with this index; skipped for a worker that is gone. */
  post(workerIndex: number, ops: DeliveryOp[]): void;
  /** Worker indexes that are running now. */
  workerIndexes(): Iterable<number>;
}

export class Dispatcher implements Delivery {
  readonly #target: DeliveryTarget;
  #ops: PendingOp[] = [];
  #isScheduled = false;
  /** Connections admitted and not yet forgotten, and how many of them each worker holds. */
  readonly #admitted = new Set<number>();
  readonly #onlineOn = new Map<number, number>();
  /** The workers with clients online, in index order; rebuilt only when one gains its first or loses its last. */
  #receivers: readonly number[] = [];

  constructor(target: DeliveryTarget) {
    this.#target = target;
  }

  admit(id: number): void {
    if (!this.#admitted.has(id)) {
      this.#admitted.add(id);
      this.#countOnline(workerOf(id), +1);
    }
    this.#push({ kind: 'admit', id });
  }

  forget(id: number): void {
    if (this.#admitted.delete(id)) this.#countOnline(workerOf(id), -1);
  }

  broadcast(text: string, except: number, positioned?: string): void {
    this.#push({ kind: 'broadcast', text, except, positioned, receivers: this.#receivers });
  }

  position(id: number): void {
    this.#push({ kind: 'position', id });
  }

  send(id: number, text: string): void {
    this.#push({ kind: 'send', id, text });
  }

  close(id: number, text: string | null, reason: CloseReason): void {
    this.#push({ kind: 'close', id, text, reason });
  }

  /** Posts everything collected so far now (also called before shutdown). */
  flush(): void {
    this.#isScheduled = false;
    const ops = this.#ops;
    this.#ops = [];
    const perWorker = new Map<number, DeliveryOp[]>();
    for (const index of this.#target.workerIndexes()) perWorker.set(index, []);
    // Consecutive broadcasts to everyone, for the same workers, merge into one buffer: one
    // encode, one write per socket. Beside it, the same run as the clients that asked for
    // positions get it (PROTOCOL.md §10.3), made only once a broadcast of the run has a positioned form.
    let run = '';
    let positionedRun: string | null = null;
    let runMessages = 0;
    let runReceivers: readonly number[] = [];
    const endRun = (): void => {
      if (run === '') return;
      const bytes = encodeText(run);
      const positioned = positionedRun === null ? null : encodeText(positionedRun);
      for (const index of runReceivers) perWorker.get(index)?.push({ kind: 'broadcast', bytes, positioned, messages: runMessages, except: NOBODY });
      run = '';
      positionedRun = null;
      runMessages = 0;
    };
    for (const op of ops) {
      if (op.kind === 'broadcast' && op.except === NOBODY) {
        if (op.receivers !== runReceivers) endRun();
        runReceivers = op.receivers;
        if (op.positioned !== undefined) positionedRun = (positionedRun ?? run) + op.positioned;
        else if (positionedRun !== null) positionedRun += op.text;
        run += op.text;
        runMessages++;
        continue;
      }
      endRun();
      switch (op.kind) {
        case 'broadcast': {
          const bytes = encodeText(op.text);
          const positioned = op.positioned === undefined ? null : encodeText(op.positioned);
          for (const index of op.receivers) perWorker.get(index)?.push({ kind: 'broadcast', bytes, positioned, messages: 1, except: op.except });
          break;
        }
        case 'position':
        case 'admit':
          perWorker.get(workerOf(op.id))?.push(op);
          break;
        case 'send':
          perWorker.get(workerOf(op.id))?.push({ kind: 'send', id: op.id, bytes: encodeText(op.text) });
          break;
        case 'close':
          perWorker.get(workerOf(op.id))?.push({
            kind: 'close',
            id: op.id,
            bytes: op.text === null ? null : encodeText(op.text),
            reason: op.reason,
          });
          break;
      }
    }
    endRun();
    for (const [index, list] of perWorker) if (list.length > 0) this.#target.post(index, list);
  }

  #countOnline(workerIndex: number, change: 1 | -1): void {
    const online = (this.#onlineOn.get(workerIndex) ?? 0) + change;
    if (online === 0) this.#onlineOn.delete(workerIndex);
    else this.#onlineOn.set(workerIndex, online);
    // A new array, never changed after: each broadcast keeps the one of its moment, and a run
    // of broadcasts is one as long as they share it.
    if (online === 0 || online === 1) this.#receivers = [...this.#onlineOn.keys()].sort((a, b) => a - b);
  }

  #push(op: PendingOp): void {
    this.#ops.push(op);
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      // After this turn's worker messages: a whole turn's decisions go out as one message per worker.
      setImmediate(() => this.flush());
    }
  }
}
