import { defineConfig } from 'vitest/config'
import { SlowestFirst } from './test/support/sequencer.js'

/**
 * Two projects: the suite, run two files at a time (two cores shared by real servers), and the
 * load tests, run afterwards on their own, because 120 concurrent CLI processes would slow every
 * other test enough to break its one-second checks. (Three at a time was no faster on a slow
 * host, 2026-12-07: the run is bound by the CPU, not by its waits.)
 */
const LOAD = ['test/e2e/iam-concurrency.test.ts']

export default defineConfig({
  test: {
    testTimeout: 90_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
    sequence: { sequencer: SlowestFirst },
    projects: [
      { extends: true, test: { name: 'suite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: LOAD } },
      { extends: true, test: { name: 'load', include: LOAD } },
    ],
  },
})
