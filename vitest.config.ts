import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests start real servers; two cores are shared by all of them
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
})
