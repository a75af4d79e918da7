// The sessions a client can come back to (PROTOCOL.md §10.3, §10.4): a token per connection that
// asked for one, and, once that connection drops, the session held for the resume window with
// its name, which nobody else may take meanwhile. A token is used up by the resume that takes
// it; the resumed connection gets a new one. Holds end lazily: whatever asks (a resume, a name
// check, a new hold) first drops the holds whose window has passed, oldest first, so no timer
// is needed. Pure apart from the random tokens; `now` is the room's monotonic clock (ms).

import { randomBytes } from 'node:crypto';
import { nameKeys } from '../protocol/index.ts';

/** 128 random bits, base64url: 22 characters (§10.3). */
export function newResumeToken(): string {
  return randomBytes(16).toString('base64url');
}

/** What a resume takes over. */
export interface HeldSession<Local> {
  /** The connection that still has the session (a drop the server has not noticed), or null once held. */
  readonly local: Local | null;
  /** The name to give back; null when it had none but its address. */
  readonly name: string | null;
}

interface Session<Local> {
  readonly token: string;
  local: Local | null;
  name: string | null;
  /** While held: when the window ends (ms, the room's clock). */
  heldUntil: number;
}

export class ResumeSessions<Local> {
  /** 0: resume is off (`--resume-window 0`). */
  readonly windowMs: number;
  readonly #newToken: () => string;
  readonly #byToken = new Map<string, Session<Local>>();
  readonly #byLocal = new Map<Local, Session<Local>>();
  /** Held sessions in the order their windows end (the window is the same for all). */
  readonly #held: Session<Local>[] = [];
  /** Held names by both their keys (protocol/names.ts), as the registry keeps names. */
  readonly #namesByFolded = new Map<string, Session<Local>>();
  readonly #namesBySkeleton = new Map<string, Session<Local>>();

  constructor(windowMs: number, newToken: () => string = newResumeToken) {
    this.windowMs = windowMs;
    this.#newToken = newToken;
  }

  get isOn(): boolean {
    return this.windowMs > 0;
  }

  /** Sessions held for a dropped connection now (after dropping those whose window passed). */
  held(now: number): number {
    this.#expire(now);
    return this.#held.length;
  }

  /** The connection's token, made the first time it asks. */
  issue(local: Local): string {
    const known = this.#byLocal.get(local);
    if (known !== undefined) return known.token;
    const session: Session<Local> = { token: this.#newToken(), local, name: null, heldUntil: 0 };
    this.#byToken.set(session.token, session);
    this.#byLocal.set(local, session);
    return session.token;
  }

  hasToken(local: Local): boolean {
    return this.#byLocal.has(local);
  }

  /**
   * The connection dropped: its session is held until the window ends, with `name` (null when
   * its name was its address, which is nobody's to take).
   */
  hold(local: Local, name: string | null, now: number): void {
    this.#expire(now);
    const session = this.#byLocal.get(local);
    if (session === undefined) return;
    this.#byLocal.delete(local);
    session.local = null;
    session.name = name;
    session.heldUntil = now + this.windowMs;
    this.#held.push(session);
    if (name !== null) {
      const keys = nameKeys(name);
      this.#namesByFolded.set(keys.folded, session);
      this.#namesBySkeleton.set(keys.skeleton, session);
    }
  }

  /** The connection left on purpose, or was put out: its session ends. */
  end(local: Local): void {
    const session = this.#byLocal.get(local);
    if (session === undefined) return;
    this.#byLocal.delete(local);
    this.#byToken.delete(session.token);
  }

  /** Whether `name`, or one that looks the same (§4, rule 6), is held for a dropped session. */
  isNameHeld(name: string, now: number): boolean {
    this.#expire(now);
    if (this.#held.length === 0) return false;
    const keys = nameKeys(name);
    return this.#namesByFolded.has(keys.folded) || this.#namesBySkeleton.has(keys.skeleton);
  }

  /** The session of `token` if it can be resumed now, without using it up. */
  find(token: string, now: number): HeldSession<Local> | undefined {
    this.#expire(now);
    return this.#byToken.get(token);
  }

  /** Uses the token up: the session is no longer held, its name is free for the resumer to take. */
  take(token: string): void {
    const session = this.#byToken.get(token);
    if (session === undefined) return;
    this.#byToken.delete(token);
    if (session.local !== null) {
      this.#byLocal.delete(session.local);
      return;
    }
    const index = this.#held.indexOf(session);
    if (index !== -1) this.#held.splice(index, 1);
    this.#releaseName(session);
  }

  #expire(now: number): void {
    let ended = 0;
    while (ended < this.#held.length && this.#held[ended]!.heldUntil <= now) {
      const session = this.#held[ended++]!;
      this.#byToken.delete(session.token);
      this.#releaseName(session);
    }
    if (ended > 0) this.#held.splice(0, ended);
  }

  #releaseName(session: Session<Local>): void {
    if (session.name === null) return;
    const keys = nameKeys(session.name);
    if (this.#namesByFolded.get(keys.folded) === session) this.#namesByFolded.delete(keys.folded);
    if (this.#namesBySkeleton.get(keys.skeleton) === session) this.#namesBySkeleton.delete(keys.skeleton);
  }
}
