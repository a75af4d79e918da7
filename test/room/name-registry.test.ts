// The one registry of who is online, as both rooms use it: by connection id on one node, by
// client key in a cluster.

import { describe, expect, it } from 'vitest';
import { NameRegistry } from '../../room/name-registry.ts';

describe('NameRegistry', () => {
  it('lists members in order of arrival, and a rename keeps the place', () => {
    const names = new NameRegistry<number>();
    names.set(1, 'a:1', 'alice');
    names.set(2, 'a:2', 'bob');
    expect(names.claim(1, 'a:1', 'carol')).toBe(true);
    expect([...names.values()].map((member) => member.name)).toEqual(['carol', 'bob']);
  });

  it('refuses a claim on a name held by another member in any case, and changes nothing', () => {
    const names = new NameRegistry<string>();
    names.set('n/1', 'a:1', 'Iris');
    names.set('n/2', 'a:2', 'bob');
    expect(names.claim('n/2', 'a:2', 'IRIS')).toBe(false);
    expect(names.get('n/2')?.name).toBe('bob');
    expect(names.findByName('iris')?.client).toBe('n/1');
  });

  it('refuses a name that only looks like a held one (the skeleton key)', () => {
    const names = new NameRegistry<number>();
    names.set(1, 'a:1', 'Iris');
    expect(names.claim(2, 'a:2', 'lris')).toBe(false);
    expect(names.findByName('lris')?.client).toBe(1);
  });

  it('lets a member claim a new case of its own name', () => {
    const names = new NameRegistry<number>();
    names.set(1, 'a:1', 'iris');
    expect(names.claim(1, 'a:1', 'IRIS')).toBe(true);
    expect(names.get(1)?.name).toBe('IRIS');
  });

  it('frees both keys of a name on rename and on remove', () => {
    const names = new NameRegistry<number>();
    names.set(1, 'a:1', 'Iris');
    names.claim(1, 'a:1', 'zed');
    expect(names.claim(2, 'a:2', 'lris')).toBe(true);
    expect(names.remove(2)?.name).toBe('lris');
    expect(names.findByName('Iris')).toBeUndefined();
    expect(names.size).toBe(1);
  });

  it('keeps a key held by a newer member when an older one that shared it lets go', () => {
    // A cluster copies Redis, which may hand a key over before this node hears the old holder left.
    const names = new NameRegistry<string>();
    names.set('n/1', 'a:1', 'iris');
    names.set('n/2', 'a:2', 'Iris');
    names.remove('n/1');
    expect(names.findByName('IRIS')?.client).toBe('n/2');
  });

  it('answers remove of a member that is not there with undefined', () => {
    expect(new NameRegistry<number>().remove(9)).toBeUndefined();
  });
});
