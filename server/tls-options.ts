// How chatd's TLS listeners are set up (--tls-port, and --web-port with a certificate): one set
// of options for both, so that the versions and the handshake bound are said once. The
// certificate and key are read and checked by config-inputs.ts readTlsIdentity. Runs in the
// worker threads.

import type { TlsOptions } from 'node:tls';
import type { TlsIdentity } from './config-inputs.ts';

export type { TlsIdentity } from './config-inputs.ts';

/** SECURITY.md: TLS 1.0 and 1.1 are broken and refused by every current browser. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** A handshake not done by then is dropped: a client that opens sockets and never speaks holds no slot long. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

export function tlsServerOptions(identity: Pick<TlsIdentity, 'cert' | 'key'>): TlsOptions {
  return { cert: identity.cert, key: identity.key, minVersion: MIN_TLS_VERSION, handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
}
