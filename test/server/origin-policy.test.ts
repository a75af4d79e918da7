// Which pages may open a WebSocket (cross-site WebSocket hijacking, SECURITY.md).

import { describe, expect, it } from 'vitest';
import { isOriginAllowed } from '../../server/origin-policy.ts';

describe('isOriginAllowed', () => {
  it("lets the page's own origin in, over HTTP and over HTTPS, default ports folded", () => {
    expect(isOriginAllowed('http://chat.example.com:8080', 'chat.example.com:8080', false, [])).toBe(true);
    expect(isOriginAllowed('https://chat.example.com', 'chat.example.com:443', true, [])).toBe(true);
    expect(isOriginAllowed('HTTP://LOCALHOST:8080', 'localhost:8080', false, [])).toBe(true);
  });

  it('refuses another site, another port and the other scheme of the same host', () => {
    expect(isOriginAllowed('https://evil.example', 'chat.example.com', true, [])).toBe(false);
    expect(isOriginAllowed('http://chat.example.com:9999', 'chat.example.com:8080', false, [])).toBe(false);
    expect(isOriginAllowed('http://chat.example.com', 'chat.example.com', true, [])).toBe(false);
  });

  it('lets the listed origins in, and nothing that only looks like one', () => {
    const allowed = ['https://app.example.com'];
    expect(isOriginAllowed('https://app.example.com', 'chat.example.com', true, allowed)).toBe(true);
    expect(isOriginAllowed('https://app.example.com.evil.example', 'chat.example.com', true, allowed)).toBe(false);
    expect(isOriginAllowed('http://app.example.com', 'chat.example.com', true, allowed)).toBe(false);
  });

  it('lets a client without Origin in (no browser), and refuses "null" and garbage', () => {
    expect(isOriginAllowed(undefined, 'chat.example.com', false, [])).toBe(true);
    expect(isOriginAllowed('null', 'chat.example.com', false, [])).toBe(false);
    expect(isOriginAllowed('not an origin', 'chat.example.com', false, [])).toBe(false);
    expect(isOriginAllowed('http://chat.example.com', undefined, false, [])).toBe(false);
  });
});
