// Structured logs (pino), one JSON object per line on stderr, from any thread.

import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  // stderr, not stdout: stdout stays free for whatever a wrapper script wants to print.
  return pino({ level, base: bindings }, pino.destination({ dest: 2, sync: true }));
}
