// Every message that crosses between the primary and a worker thread, typed end to end.
// Ordering (docs/ARCHITECTURE.md §4): each direction is one MessagePort, so messages arrive in
// the order they were posted; everything below relies on that and on nothing else.

import type { ClientEvent } from '../room/client-event.ts';
import type { CloseReason } from '../room/close-reason.ts';
import type { TlsIdentity } from './config-inputs.ts';
import type { PortFlag } from './listen-error.ts';
import type { MetricsJson } from './metrics.ts';
import type { WebFile } from './web-files.ts';

/** What a worker thread is started with (workerData). */
export interface WorkerSettings {
  readonly index: number;
  /** Where this worker's connection serials start (see MAX_WORKERS). */
  readonly firstSerial: number;
  readonly host: string;
  readonly port: number;
  readonly maxLineBytes: number;
  readonly maxPendingBytes: number;
  /** Flood control: lines per second (0: off) and burst. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly logLevel: string;
  /** The web client and /ws (null: off), and the line protocol over TLS (null: off). */
  readonly webPort: number | null;
  readonly tlsPort: number | null;
  /** The certificate of both TLS listeners; null without --tls-cert. Replaced by 'tls-reload'. */
  readonly tls: TlsIdentity | null;
  readonly webOrigins: readonly string[];
  readonly webKeepaliveSeconds: number;
  /** The web client's files, read once by the primary; empty without --web-port. */
  readonly webFiles: readonly WebFile[];
}

/**
 * A connection id is unique for the life of the server and names its worker:
 * id = serial * MAX_WORKERS + worker index.
 */
export const MAX_WORKERS = 256;
/** Serials each start of a worker index may use: 2^30 connections, 2^15 restarts within 2^53. */
export const SERIALS_PER_START = 2 ** 30;
export const workerOf = (connectionId: number): number => connectionId % MAX_WORKERS;

export type { ClientEvent } from '../room/client-event.ts';

export type WorkerMessage =
  | { readonly type: 'listening' }
  | { readonly type: 'listen-failed'; readonly flag: PortFlag; readonly code: string; readonly message: string }
  /** One batch per turn of the worker's event loop. */
  | { readonly type: 'events'; readonly events: readonly ClientEvent[] }
  /** After 'shutdown': every socket of this worker is closed. */
  | { readonly type: 'drained' }
  /** The answer to 'metrics-request' with the same id: this worker's metrics, read just now. */
  | { readonly type: 'metrics'; readonly requestId: number; readonly metrics: MetricsJson };

/** What a worker does for the primary, in order. Bytes are whole CRLF-terminated lines. */
export type DeliveryOp =
  /** The connection is online: from now on it receives broadcasts. */
  | { readonly kind: 'admit'; readonly id: number }
  /** From now on the connection gets a broadcast's `positioned` bytes where it has them (PROTOCOL.md §10.3). */
  | { readonly kind: 'position'; readonly id: number }
  /**
   * `messages`: how many server messages `bytes` holds (consecutive broadcasts share one buffer).
   * `positioned`: the same messages with the history lines' positions, for the connections that
   * asked for them; null when none of the messages has a position or no client asked.
   */
  | {
      readonly kind: 'broadcast';
      readonly bytes: Uint8Array;
      readonly positioned: Uint8Array | null;
      readonly messages: number;
      readonly except: number;
    }
  | { readonly kind: 'send'; readonly id: number; readonly bytes: Uint8Array }
  /** Write `bytes` if given, flush, then close. */
  | { readonly kind: 'close'; readonly id: number; readonly bytes: Uint8Array | null; readonly reason: CloseReason };

export type PrimaryMessage =
  /** One batch per turn of the primary's event loop. */
  | { readonly type: 'deliver'; readonly ops: readonly DeliveryOp[] }
  /** Stop listening, send `notice` to every client, flush, close, then answer 'drained'. */
  | { readonly type: 'shutdown'; readonly notice: Uint8Array }
  /**
   * A scrape of /metrics: answer 'metrics' with this id. The primary waits METRICS_DEADLINE_MS
   * for the answers; a worker that is late is missing from that scrape, and its late answer is
   * dropped.
   */
  | { readonly type: 'metrics-request'; readonly requestId: number }
  /** SIGHUP read a new certificate and key (already checked): new TLS handshakes use them, nobody is dropped. */
  | { readonly type: 'tls-reload'; readonly tls: TlsIdentity }
  /**
   * Test hook (CHATD_TEST_HOOKS=1 only): post messages the primary does not expect, then throw
   * an uncaught error, as a bug would.
   */
  | { readonly type: 'test-crash' };
