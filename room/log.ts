// What the room and the cluster write their log lines through. pino's Logger (server/log.ts)
// fits it as it is; keeping the room to this much lets it be pure and its tests pass a recorder.

export interface Log {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): Log;
}
