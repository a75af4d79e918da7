// A small seeded pseudo-random generator for the fuzz and soak runs: the same seed gives the same
// choices, so a failure can be replayed (timing aside). Runs in the vitest worker only.

/** Where a run's seed comes from: `variable` if set (to replay a failure), else a fresh one. */
export function chooseSeed(variable: string): number {
  const given = process.env[variable];
  if (given !== undefined && given.trim() !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new Error(`${variable} must be a whole number from 0 to 4294967295; got ${given}`);
    }
    return seed;
  }
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter): 128 bits of state, good enough for tests. */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e37_79b9;
    this.#b = 0x243f_6a88;
    this.#c = 0xb7e1_5162;
    this.#d = seed >>> 0;
    // Mixes the seed through the state so that nearby seeds give unrelated streams.
    for (let i = 0; i < 15; i++) this.#next32();
  }

  /** An independent generator for one actor, derived from this one's stream. */
  fork(): SeededRandom {
    return new SeededRandom(this.#next32());
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next32() / 0x1_0000_0000;
  }

  /** A whole number from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  #next32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
}
