// ResumeSessions alone: tokens, holds within the window, held names, and a token used once.

import { describe, expect, it } from 'vitest';
import { newResumeToken, ResumeSessions } from '../../room/resume-sessions.ts';

const WINDOW_MS = 120_000;

function sessions(): ResumeSessions<string> {
  let serial = 0;
  return new ResumeSessions<string>(WINDOW_MS, () => `token-${++serial}`);
}

describe('ResumeSessions', () => {
  it('makes tokens of 128 random bits in base64url, 22 characters, never the same twice', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newResumeToken()));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('gives a connection the same token each time it asks', () => {
    const held = sessions();
    expect(held.issue('alice')).toBe('token-1');
    expect(held.issue('alice')).toBe('token-1');
    expect(held.issue('bob')).toBe('token-2');
  });

  it('holds a dropped session with its name until the window ends, then forgets both', () => {
    const held = sessions();
    const token = held.issue('alice');
    held.hold('alice', 'alice', 1_000);
    expect(held.find(token, 1_000 + WINDOW_MS - 1)).toEqual({ token, local: null, name: 'alice', heldUntil: 1_000 + WINDOW_MS });
    expect(held.isNameHeld('ALICE', 1_000 + WINDOW_MS - 1)).toBe(true);
    expect(held.isNameHeld('аlice', 1_000 + WINDOW_MS - 1)).toBe(true); // Cyrillic а: the same skeleton
    expect(held.held(1_000 + WINDOW_MS - 1)).toBe(1);
    expect(held.find(token, 1_000 + WINDOW_MS)).toBeUndefined();
    expect(held.isNameHeld('alice', 1_000 + WINDOW_MS)).toBe(false);
    expect(held.held(1_000 + WINDOW_MS)).toBe(0);
  });

  it('holds no name for a session whose name was its address', () => {
    const held = sessions();
    const token = held.issue('alice');
    held.hold('alice', null, 0);
    expect(held.find(token, 1)?.name).toBeNull();
    expect(held.isNameHeld('127.0.0.1:1', 1)).toBe(false);
  });

  it('uses a token up when it is taken, and frees its name for the resumer', () => {
    const held = sessions();
    const token = held.issue('alice');
    held.hold('alice', 'alice', 0);
    held.take(token);
    expect(held.find(token, 1)).toBeUndefined();
    expect(held.isNameHeld('alice', 1)).toBe(false);
    expect(held.held(1)).toBe(0);
  });

  it('lets a session whose connection is still here be found and taken, which detaches it', () => {
    const held = sessions();
    const token = held.issue('alice');
    expect(held.find(token, 0)?.local).toBe('alice');
    held.take(token);
    expect(held.hasToken('alice')).toBe(false);
    expect(held.issue('alice')).toBe('token-2');
  });

  it('ends the session of a connection that left on purpose: nothing is held', () => {
    const held = sessions();
    const token = held.issue('alice');
    held.end('alice');
    expect(held.find(token, 0)).toBeUndefined();
    held.hold('alice', 'alice', 0);
    expect(held.isNameHeld('alice', 0)).toBe(false);
  });

  it('holds nothing for a connection that never asked for a token', () => {
    const held = sessions();
    held.hold('alice', 'alice', 0);
    expect(held.isNameHeld('alice', 0)).toBe(false);
    expect(held.held(0)).toBe(0);
  });

  it('is off with a window of 0', () => {
    expect(new ResumeSessions(0).isOn).toBe(false);
    expect(sessions().isOn).toBe(true);
  });
});
