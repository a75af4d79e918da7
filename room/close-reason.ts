// Why a connection ended: one list shared by logs, metrics and tests (after nats-server's ClosedState).

export const CloseReason = {
  /** The client closed its side (EOF) or the connection was reset. */
  ClientClosed: 'ClientClosed',
  /** The client sent /quit. */
  Quit: 'Quit',
  /** No complete line for --idle-timeout seconds. */
  IdleTimeout: 'IdleTimeout',
  /** More than --max-pending bytes waited for a client that does not read. */
  SlowConsumer: 'SlowConsumer',
  /** --max-clients were already online. */
  ServerFull: 'ServerFull',
  /** Kept sending faster than --rate-limit until MAX_BACKLOG_LINES lines waited (server/flood-control.ts). */
  Flooding: 'Flooding',
  /** --max-per-ip clients from its IP address were already online. */
  TooManyFromAddress: 'TooManyFromAddress',
  /** The worker thread that owned the socket died. */
  WorkerFailed: 'WorkerFailed',
  /** Handling the client's input threw: a bug in chatd, logged with its stack. */
  InternalError: 'InternalError',
  /** The socket failed (an error other than a plain reset). */
  SocketError: 'SocketError',
  /**
   * A WebSocket client broke the binding (PROTOCOL.md §9): a binary message, one over --max-line,
   * a ping flood or a malformed frame. Closed with the close code PROTOCOL.md gives for each.
   */
  ProtocolViolation: 'ProtocolViolation',
  /** A WebSocket client did not answer a ping by the next one (--web-keepalive). */
  KeepaliveTimeout: 'KeepaliveTimeout',
  /** Its session was resumed on another connection (PROTOCOL.md §10.4): the old one is closed. */
  Replaced: 'Replaced',
} as const;

export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/**
 * The reasons a client is put out by the server: every reason but the client's own doing
 * (ClientClosed, Quit, and Replaced: it resumed elsewhere). Logged as `kick`, counted by
 * `chatd_kicks_total{reason}`.
 */
export const KICK_REASONS: readonly CloseReason[] = Object.values(CloseReason).filter(
  (reason) => reason !== CloseReason.ClientClosed && reason !== CloseReason.Quit && reason !== CloseReason.Replaced,
);
