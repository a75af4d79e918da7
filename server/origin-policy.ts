// Which pages may open a WebSocket to chatd (cross-site WebSocket hijacking, SECURITY.md): a
// browser sends the Origin of the page that opens the socket and cannot be made to lie about
// it, so a page of another site is refused unless the operator listed its origin (--web-origin).
// A client that sends no Origin is no browser (a bot, chat-bench): it could as well use the TCP
// port, and may connect. Pure; runs in the worker threads.

/**
 * Whether a handshake with this Origin header may go on. `host` is the request's Host header
 * and `isSecure` whether it came over TLS: together they are the page's own origin, which the
 * page chatd serves always has. `allowed` holds origins as URL's `origin` writes them.
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, isSecure: boolean, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  // A sandboxed frame or a file:// page sends "null": no site of anyone's.
  if (origin === 'null') return false;
  const normalized = normalize(origin);
  if (normalized === null) return false;
  if (host !== undefined && normalized === normalize(`${isSecure ? 'https' : 'http'}://${host}`)) return true;
  return allowed.includes(normalized);
}

/** `scheme://host[:port]` in lower case without the scheme's default port, or null when it is no origin. */
function normalize(text: string): string | null {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}
