import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The files that took longest in CI (seconds, on two workers, 2026-12-06), started first. Vitest
 * starts the longest files first when its cache holds the last run's durations, but a fresh clone
 * (CI) has none, and then `first-ten-minutes` (42 s) started last and ran alone while the other
 * worker had nothing left. A file missing here only starts later; nothing else depends on it.
 */
const SLOWEST = [
  'test/e2e/gateway-forwarding.test.ts', // 146–205
  'test/browser/workforce-login.test.ts', // 135–154
  'test/browser/browser-access.test.ts', // 146
  'test/e2e/gateway-attacks.test.ts', // 90–102
  'test/browser/console.test.ts', // 85
  'test/e2e/upstream-answer-fuzz.test.ts', // 84
  'test/e2e/early-answers.test.ts', // 64
  'test/e2e/http1-fuzz.test.ts', // 58
  'test/e2e/gateway-edges.test.ts', // 57
  'test/e2e/http2-fuzz.test.ts', // 53
  'test/e2e/gcloud-habits.test.ts', // 51
  'test/e2e/access-requests.test.ts', // 47
  'test/e2e/database-restore-at-start.test.ts', // 45
  'test/e2e/access-tests.test.ts', // 44
  'test/e2e/first-ten-minutes.test.ts', // 43
]

/** Where a file starts: the slowest known first, then the other end-to-end files, then unit tests (src/), which fill the end. */
function rank(file: string): number {
  const known = SLOWEST.findIndex((slow) => file.endsWith(slow))
  if (known >= 0) return known
  return SLOWEST.length + (file.includes('/src/') ? 1 : 0)
}

export class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files)
    // Array.prototype.sort is stable: within a rank, Vitest's own order stands.
    return base.sort((a, b) => rank(a.moduleId) - rank(b.moduleId))
  }
}
