// A port chatd could not have: the chat port, the HTTP admin port, the web port or the TLS
// port. Thrown by the primary, turned into one line on stderr by cli/chatd.ts (describeListenError).

/** The flag whose port failed, so that the message tells the user which one to change. */
export type PortFlag = '--port' | '--http-port' | '--web-port' | '--tls-port';

/** The port could not be had; `code` is the system's (EADDRINUSE, EACCES, …). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code: string;
  readonly flag: PortFlag;
  constructor(code: string, message: string, flag: PortFlag = '--port') {
    super(message);
    this.code = code;
    this.flag = flag;
  }
}
