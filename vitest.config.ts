import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests start real chatd processes; each awaits lines with its own deadlines.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more parallel files than that only makes the timing tests noisy.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
