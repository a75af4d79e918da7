// The limits a room checks before it takes a client in (--max-clients, --max-per-ip), with the
// count per IP address the second one needs. Pure; RoomCore keeps one, for this node's own
// connections, whichever room it serves.

import { serverFull, tooManyFromAddress, type ProtocolError } from '../protocol/index.ts';
import { CloseReason } from './close-reason.ts';

export interface LimitSettings {
  readonly maxClients: number;
  /** Clients online from one IP address; 0: no limit. */
  readonly maxPerIp: number;
}

/** Why a client is turned away: the line it is told, the close reason, and the log message. */
export interface Refusal {
  readonly error: ProtocolError;
  readonly reason: CloseReason;
  readonly message: string;
}

export class AdmissionLimits {
  readonly #settings: LimitSettings;
  readonly #onlinePerIp = new Map<string, number>();

  constructor(settings: LimitSettings) {
    this.#settings = settings;
  }

  /** With `online` clients in already: null when this one may come in (it is then counted), else why not. */
  admit(ip: string, online: number): Refusal | null {
    if (online >= this.#settings.maxClients) {
      return { error: serverFull(this.#settings.maxClients), reason: CloseReason.ServerFull, message: 'server full' };
    }
    const fromIp = this.#onlinePerIp.get(ip) ?? 0;
    if (this.#settings.maxPerIp !== 0 && fromIp >= this.#settings.maxPerIp) {
      return {
        error: tooManyFromAddress(this.#settings.maxPerIp),
        reason: CloseReason.TooManyFromAddress,
        message: 'too many connections from one address',
      };
    }
    this.#onlinePerIp.set(ip, fromIp + 1);
    return null;
  }

  /** A client admitted from `ip` is gone. */
  release(ip: string): void {
    const left = (this.#onlinePerIp.get(ip) ?? 1) - 1;
    if (left === 0) this.#onlinePerIp.delete(ip);
    else this.#onlinePerIp.set(ip, left);
  }
}
