// What a room says to one client in the server's own words: the message of the day after the
// greeting, the /help reply with this server's limits, and the warning before an idle timeout
// (#10 §7). Each is encoded once, not per client; RoomCore keeps it for both rooms.
// Pure; runs in the primary thread.

import { encodeHelp, encodeIdleWarning, encodeMotd } from '../protocol/index.ts';
import { IdleTimer, idleWarningLeadSeconds } from './idle-timer.ts';
import type { RoomSettings } from './room.ts';

export class RoomTexts {
  readonly help: string;
  readonly idleWarning: string;
  #motd: string;

  constructor(settings: RoomSettings) {
    const idleWarningSeconds = idleWarningLeadSeconds(settings.idleTimeoutSeconds);
    this.help = encodeHelp({
      idleTimeoutSeconds: settings.idleTimeoutSeconds,
      idleWarningSeconds,
      rateLimit: settings.rateLimit,
      rateBurst: settings.rateBurst,
    });
    this.idleWarning = encodeIdleWarning(idleWarningSeconds);
    this.#motd = encodeMotd(settings.motd ?? []);
  }

  /** The lines after every greeting; '' when there are none. */
  get motd(): string {
    return this.#motd;
  }

  /** A new message of the day for those who connect from now on (SIGHUP). */
  setMotd(lines: readonly string[]): void {
    this.#motd = encodeMotd(lines);
  }
}

/** A room's idle timer, warning each client the lead before its timeout (idleWarningLeadSeconds). */
export function idleTimerFor(settings: RoomSettings): IdleTimer {
  return new IdleTimer(settings.idleTimeoutSeconds * 1000, idleWarningLeadSeconds(settings.idleTimeoutSeconds) * 1000);
}
