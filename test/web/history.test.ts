// Recall of the lines sent from a tab (web/history.js), as a shell's up and down arrows do it.

import { describe, expect, it } from 'vitest';
import { InputHistory } from '../../web/history.js';

describe('InputHistory', () => {
  it('goes back from the newest line to the oldest, then stops', () => {
    const history = new InputHistory();
    for (const line of ['one', 'two', 'three']) history.push(line);
    expect([history.previous(''), history.previous('three'), history.previous('two'), history.previous('one')]).toEqual(['three', 'two', 'one', null]);
  });

  it('comes forward again to what was being typed before the first step back', () => {
    const history = new InputHistory();
    history.push('one');
    history.push('two');
    expect(history.previous('half a thou')).toBe('two');
    expect(history.previous('two')).toBe('one');
    expect(history.next()).toBe('two');
    expect(history.next()).toBe('half a thou');
    expect(history.next()).toBeNull();
  });

  it('keeps a line sent twice in a row once, and starts again from the newest after each send', () => {
    const history = new InputHistory();
    history.push('hi');
    history.push('hi');
    history.previous('');
    history.push('bye');
    expect([history.previous(''), history.previous('bye'), history.previous('hi')]).toEqual(['bye', 'hi', null]);
  });

  it('forgets the oldest lines past its limit', () => {
    const history = new InputHistory(2);
    for (const line of ['a', 'b', 'c']) history.push(line);
    expect([history.previous(''), history.previous('c'), history.previous('b')]).toEqual(['c', 'b', null]);
  });

  it('has nothing to recall before the first line', () => {
    const history = new InputHistory();
    expect(history.previous('draft')).toBeNull();
    expect(history.next()).toBeNull();
  });
});
