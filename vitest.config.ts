import { defineConfig } from 'vitest/config'
import { SlowestFirst } from './test/support/sequencer.js'

/**
 * Two projects: the suite, run three files at a time, and the load tests, run afterwards on their
 * own, because 200 concurrent CLI processes would slow every other test enough to break its
 * one-second checks. Three on two cores: much of a file's time is waiting (token lifetimes, idle
 * timeouts, servers starting), and on a slow host two at a time took the whole run (CI) to 29 of
 * its 30 minutes (2026-12-07; 15 minutes on the host of the week before).
 */
const LOAD = ['test/e2e/iam-concurrency.test.ts']

export default defineConfig({
  test: {
    testTimeout: 90_000,
    hookTimeout: 120_000,
    maxWorkers: 3,
    globalSetup: ['test/support/global-setup.ts'],
    sequence: { sequencer: SlowestFirst },
    projects: [
      { extends: true, test: { name: 'suite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: LOAD } },
      { extends: true, test: { name: 'load', include: LOAD } },
    ],
  },
})
