// A Delivery that records what a room decided, in order, for the room's unit tests.

import type { CloseReason } from '../../room/close-reason.ts';
import type { Delivery } from '../../room/delivery.ts';

export type Op = [kind: 'admit' | 'position' | 'broadcast' | 'send' | 'close', ...args: Array<string | number | null>];

export class RecordingDelivery implements Delivery {
  ops: Op[] = [];
  admit(id: number): void {
    this.ops.push(['admit', id]);
  }
  /** A broadcast with a positioned form records it as a fourth element; one without records three. */
  broadcast(text: string, except: number, positioned?: string): void {
    this.ops.push(positioned === undefined ? ['broadcast', text, except] : ['broadcast', text, except, positioned]);
  }
  position(id: number): void {
    this.ops.push(['position', id]);
  }
  send(id: number, text: string): void {
    this.ops.push(['send', id, text]);
  }
  close(id: number, text: string | null, reason: CloseReason): void {
    this.ops.push(['close', id, text, reason]);
  }
  /** The ids the room forgot, in order: kept apart from `ops`, which are what a client receives. */
  forgotten: number[] = [];
  forget(id: number): void {
    this.forgotten.push(id);
  }
  /** What was recorded since the last take. */
  take(): Op[] {
    const ops = this.ops;
    this.ops = [];
    return ops;
  }
}
