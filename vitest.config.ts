import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // End-to-end tests start real chatd processes; each awaits lines with its own deadlines.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more parallel files than that only makes the timing tests noisy.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'chatd', include: ['test/**/*.test.ts'], exclude: ['test/soak/**'], sequence: { groupOrder: 0 } },
      },
      {
        // The soak judges timing (idle timeouts, rate limits) and memory over a minute: it runs
        // alone, after everything else, so the rest of the suite cannot load the machine under it.
        extends: true,
        // One soak file at a time, for the same reason.
        test: { name: 'soak', include: ['test/soak/**/*.test.ts'], sequence: { groupOrder: 1 }, fileParallelism: false },
      },
    ],
  },
});
