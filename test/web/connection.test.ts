// When the web client opens its next WebSocket (web/connection.js), and where: back-off with
// jitter after a close nobody announced, none after /quit or an idle timeout, and the session to
// resume in the handshake's path (PROTOCOL.md §10.5). A fake socket and a manual clock stand in
// for the browser's.

import { describe, expect, it } from 'vitest';
import {
  Connection,
  QUIT_CLOSE_GRACE_MS,
  RECONNECT_BASE_MS,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
  socketPath,
  type ResumePoint,
} from '../../web/connection.js';

interface FakeSocket {
  readonly path: string;
  readonly sent: string[];
  closedWith: number | null;
  readonly events: { onOpen(): void; onMessage(text: string): void; onClose(code: number): void };
}

/** A connection over fake sockets, with a clock that moves only when told to, resuming from `resume()` if given. */
function harness(random = 0.5, resume?: () => ResumePoint | null) {
  let now = 0;
  const timers: { at: number; callback: () => void; handle: number }[] = [];
  const sockets: FakeSocket[] = [];
  const states: string[] = [];
  const closes: { reason: string; code: number | null }[] = [];
  let handles = 0;
  const connection = new Connection(
    {
      openSocket: (events: FakeSocket['events'], path: string) => {
        const socket: FakeSocket = { path, sent: [], closedWith: null, events };
        sockets.push(socket);
        return {
          send: (text: string) => socket.sent.push(text),
          close: (code?: number) => {
            socket.closedWith = code ?? null;
          },
        };
      },
      setTimer: (callback: () => void, ms: number) => {
        const handle = ++handles;
        timers.push({ at: now + ms, callback, handle });
        return handle;
      },
      clearTimer: (handle: unknown) => {
        const index = timers.findIndex((timer) => timer.handle === handle);
        if (index !== -1) timers.splice(index, 1);
      },
      now: () => now,
      random: () => random,
    },
    {
      onOpen: () => {},
      onMessage: () => {},
      onState: (state: { state: string; retryAt?: number }) => states.push(state.state === 'reconnecting' ? `reconnecting at ${state.retryAt}` : state.state),
      onClose: (cause: { reason: string; code: number | null }) => closes.push(cause),
      ...(resume === undefined ? {} : { resumePoint: resume }),
    },
  );
  /** Moves the clock on by `ms`, running the timers that come due. */
  const advance = (ms: number): void => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (next === undefined || next.at > until) break;
      timers.shift();
      now = next.at;
      next.callback();
    }
    now = until;
  };
  const last = (): FakeSocket => sockets[sockets.length - 1]!;
  return { connection, sockets, states, closes, advance, last, time: () => now };
}

describe('reconnectDelayMs', () => {
  it('waits between half and all of 0.5 s doubling each try', () => {
    expect(reconnectDelayMs(0, 0)).toBe(RECONNECT_BASE_MS / 2);
    expect(reconnectDelayMs(0, 0.999999)).toBe(RECONNECT_BASE_MS);
    expect(reconnectDelayMs(1, 0)).toBe(500);
    expect(reconnectDelayMs(3, 0.5)).toBe(3000);
  });

  it('never waits more than 30 s', () => {
    expect(reconnectDelayMs(6, 0.999999)).toBe(RECONNECT_MAX_MS);
    expect(reconnectDelayMs(60, 0.999999)).toBe(RECONNECT_MAX_MS);
    expect(reconnectDelayMs(60, 0)).toBe(RECONNECT_MAX_MS / 2);
  });
});

describe('socketPath', () => {
  it('is /ws for a newcomer', () => {
    expect(socketPath(null)).toBe('/ws');
  });

  it("is /ws?resume=TOKEN&position=N for a session to take back, with §10.6's token and position", () => {
    expect(socketPath({ token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 14 })).toBe('/ws?resume=3q2-7wbYc5u0Yx1PQrH6Aw&position=14');
    expect(socketPath({ token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 0 })).toBe('/ws?resume=3q2-7wbYc5u0Yx1PQrH6Aw&position=0');
  });
});

describe('Connection', () => {
  it('opens /ws first, and resumes in the handshake of the reconnect after a drop once the session has a token', () => {
    let resume: ResumePoint | null = null;
    const { connection, sockets, advance, last } = harness(0.5, () => resume);
    connection.connect();
    last().events.onOpen();
    resume = { token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 14 };
    last().events.onClose(1006);
    advance(RECONNECT_BASE_MS);
    expect(sockets.map((socket) => socket.path)).toEqual(['/ws', '/ws?resume=3q2-7wbYc5u0Yx1PQrH6Aw&position=14']);
  });

  it('asks where to resume from for each try, so a session that has nothing left to resume comes back at /ws', () => {
    let resume: ResumePoint | null = { token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 14 };
    const { connection, sockets, advance, last } = harness(0.5, () => resume);
    connection.connect();
    last().events.onClose(1006);
    resume = { token: 'k1b9VZ0Qp4mJt2dF6cXyHw', position: 15 };
    advance(RECONNECT_BASE_MS);
    last().events.onOpen();
    connection.expectEnd('quit', false, 'you left the chat');
    resume = null; // session.js forgets its token at /quit
    last().events.onClose(1000);
    connection.connect();
    expect(sockets.map((socket) => socket.path)).toEqual([
      '/ws?resume=3q2-7wbYc5u0Yx1PQrH6Aw&position=14',
      '/ws?resume=k1b9VZ0Qp4mJt2dF6cXyHw&position=15',
      '/ws',
    ]);
  });

  it('opens /ws when nobody says where to resume from', () => {
    const { connection, last } = harness();
    connection.connect();
    expect(last().path).toBe('/ws');
  });

  it('is online once its socket opens, and sends only then', () => {
    const { connection, states, last } = harness();
    connection.connect();
    expect(connection.send('who')).toBe(false);
    last().events.onOpen();
    expect(connection.send('who')).toBe(true);
    expect(last().sent).toEqual(['who']);
    expect(states).toEqual(['connecting', 'online']);
  });

  it('reconnects after a close nobody announced, waiting longer after each failed try', () => {
    const { connection, sockets, states, advance, last } = harness(0.5);
    connection.connect();
    last().events.onOpen();
    last().events.onClose(1006);
    expect(states.at(-1)).toBe('reconnecting at 375');
    advance(375);
    expect(sockets).toHaveLength(2);
    last().events.onClose(1006);
    advance(749);
    expect(sockets).toHaveLength(2);
    advance(1);
    expect(sockets).toHaveLength(3);
    last().events.onClose(1006);
    expect(states.at(-1)).toBe(`reconnecting at ${375 + 750 + 1500}`);
  });

  it('starts the back-off anew once a connection has logged in', () => {
    const { connection, states, advance, last } = harness(0);
    connection.connect();
    last().events.onClose(1006);
    advance(250);
    last().events.onClose(1006);
    advance(500);
    last().events.onOpen();
    connection.markLoggedIn();
    last().events.onClose(1006);
    expect(states.at(-1)).toBe(`reconnecting at ${750 + 250}`);
  });

  it('stays offline after /quit, and closes the socket itself if the server does not', () => {
    const { connection, sockets, states, closes, advance, last } = harness();
    connection.connect();
    last().events.onOpen();
    connection.expectEnd('quit', false, 'you left the chat');
    advance(QUIT_CLOSE_GRACE_MS);
    expect(last().closedWith).toBe(1000);
    last().events.onClose(1000);
    expect(states.at(-1)).toBe('offline');
    expect(closes).toEqual([{ reason: 'quit', code: 1000, message: 'you left the chat', wasOpen: true }]);
    advance(RECONNECT_MAX_MS * 2);
    expect(sockets).toHaveLength(1);
  });

  it('stays offline after an idle timeout until asked to connect', () => {
    const { connection, sockets, states, advance, last } = harness();
    connection.connect();
    last().events.onOpen();
    connection.expectEnd('idle-timeout', false, 'no line from you for 60 s; disconnected (send any line to stay)');
    last().events.onClose(1000);
    advance(RECONNECT_MAX_MS * 2);
    expect(sockets).toHaveLength(1);
    expect(states.at(-1)).toBe('offline');
    connection.connect();
    expect(sockets).toHaveLength(2);
  });

  it('reconnects with back-off after the server shuts down', () => {
    const { connection, sockets, closes, advance, last } = harness();
    connection.connect();
    last().events.onOpen();
    connection.expectEnd('shutdown', true, 'server shutting down; goodbye');
    last().events.onClose(1000);
    expect(closes[0]).toMatchObject({ reason: 'shutdown' });
    advance(RECONNECT_BASE_MS);
    expect(sockets).toHaveLength(2);
  });

  it('keeps saying why the last open connection ended while the tries after it fail', () => {
    const { connection, closes, advance, last } = harness();
    connection.connect();
    last().events.onOpen();
    connection.expectEnd('shutdown', true, 'server shutting down; goodbye');
    last().events.onClose(1000);
    advance(RECONNECT_BASE_MS);
    last().events.onClose(1006);
    expect(closes).toMatchObject([
      { reason: 'shutdown', code: 1000, wasOpen: true },
      { reason: 'shutdown', code: 1000, wasOpen: false },
    ]);
    expect(connection.state).toMatchObject({ state: 'reconnecting', cause: { reason: 'shutdown' } });
  });

  it('tries at once when asked during a back-off, and only once', () => {
    const { connection, sockets, advance, last } = harness();
    connection.connect();
    last().events.onClose(1006);
    connection.connect();
    connection.connect();
    expect(sockets).toHaveLength(2);
    advance(RECONNECT_MAX_MS);
    expect(sockets).toHaveLength(2);
  });

  it('ignores what an old socket reports after a new one replaced it', () => {
    const { connection, sockets, states, last } = harness();
    connection.connect();
    const old = last();
    old.events.onClose(1006);
    connection.connect();
    old.events.onOpen();
    old.events.onClose(1006);
    expect(sockets).toHaveLength(2);
    expect(states.at(-1)).toBe('connecting');
  });

  it('reconnects after a socket that closed before it was even returned', () => {
    const states: string[] = [];
    const connection = new Connection(
      {
        openSocket: (events: FakeSocket['events']) => {
          events.onClose(1006);
          return { send: () => {}, close: () => {} };
        },
        setTimer: () => 1,
        clearTimer: () => {},
        now: () => 0,
        random: () => 0,
      },
      { onOpen: () => {}, onMessage: () => {}, onState: (state: { state: string }) => states.push(state.state), onClose: () => {} },
    );
    connection.connect();
    expect(states).toEqual(['connecting', 'reconnecting']);
  });
});
