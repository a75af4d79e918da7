// When the web client opens its next WebSocket (web/connection.js): back-off with jitter after a
// close nobody announced, none after /quit or an idle timeout. A fake socket and a manual clock
// stand in for the browser's.

import { describe, expect, it } from 'vitest';
import {
  Connection,
  QUIT_CLOSE_GRACE_MS,
  RECONNECT_BASE_MS,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
} from '../../web/connection.js';

interface FakeSocket {
  readonly sent: string[];
  closedWith: number | null;
  readonly events: { onOpen(): void; onMessage(text: string): void; onClose(code: number): void };
}

/** A connection over fake sockets, with a clock that moves only when told to. */
function harness(random = 0.5) {
  let now = 0;
  const timers: { at: number; callback: () => void; handle: number }[] = [];
  const sockets: FakeSocket[] = [];
  const states: string[] = [];
  const closes: { reason: string; code: number | null }[] = [];
  let handles = 0;
  const connection = new Connection(
    {
      openSocket: (events: FakeSocket['events']) => {
        const socket: FakeSocket = { sent: [], closedWith: null, events };
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

describe('Connection', () => {
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
