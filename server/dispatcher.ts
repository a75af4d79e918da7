// The primary's side of delivery: collects the room's decisions during one turn of the event
// loop and posts each worker one 'deliver' message with its share, in the global order.
// Runs in the primary thread only.

import { encodeText } from './bytes.ts';
import type { CloseReason } from '../room/close-reason.ts';
import { NOBODY, type Delivery } from '../room/delivery.ts';
import { workerOf, type DeliveryOp } from './messages.ts';

type PendingOp =
  | { readonly kind: 'admit'; readonly id: number }
  | { readonly kind: 'position'; readonly id: number }
  | { readonly kind: 'broadcast'; readonly text: string; readonly except: number; readonly positioned: string | undefined }
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

  constructor(target: DeliveryTarget) {
    this.#target = target;
  }

  admit(id: number): void {
    this.#push({ kind: 'admit', id });
  }

  broadcast(text: string, except: number, positioned?: string): void {
    this.#push({ kind: 'broadcast', text, except, positioned });
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
    // Consecutive broadcasts to everyone merge into one buffer: one encode, one write per socket.
    // Beside it, the same run as the clients that asked for positions get it (PROTOCOL.md
    // §10.3), made only once a broadcast of the run has a positioned form.
    let run = '';
    let positionedRun: string | null = null;
    let runMessages = 0;
    const endRun = (): void => {
      if (run === '') return;
      const bytes = encodeText(run);
      const positioned = positionedRun === null ? null : encodeText(positionedRun);
      for (const list of perWorker.values()) list.push({ kind: 'broadcast', bytes, positioned, messages: runMessages, except: NOBODY });
      run = '';
      positionedRun = null;
      runMessages = 0;
    };
    for (const op of ops) {
      if (op.kind === 'broadcast' && op.except === NOBODY) {
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
          for (const list of perWorker.values()) list.push({ kind: 'broadcast', bytes, positioned, messages: 1, except: op.except });
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

  #push(op: PendingOp): void {
    this.#ops.push(op);
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      // After this turn's worker messages: a whole turn's decisions go out as one message per worker.
      setImmediate(() => this.flush());
    }
  }
}
