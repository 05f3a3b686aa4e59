import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startTestClock, testClockFileFrom } from './test-clock.js'

describe('the test clock', () => {
  it('is off unless asked for, and refused outside tests and off loopback', () => {
    expect(testClockFileFrom({}, true)).toBeUndefined()
    expect(() => testClockFileFrom({ POSTERN_TEST_ONLY_CLOCK_FILE: '/tmp/x' }, true)).toThrow('honoured only with NODE_ENV=test')
    expect(() => testClockFileFrom({ POSTERN_TEST_ONLY_CLOCK_FILE: '/tmp/x', NODE_ENV: 'production' }, true)).toThrow('NODE_ENV=test')
    expect(() => testClockFileFrom({ POSTERN_TEST_ONLY_CLOCK_FILE: '/tmp/x', NODE_ENV: 'test' }, false)).toThrow('loopback')
    expect(testClockFileFrom({ POSTERN_TEST_ONLY_CLOCK_FILE: '/tmp/x', NODE_ENV: 'test' }, true)).toBe('/tmp/x')
  })

  it('runs ahead by the file’s seconds, follows changes, and never goes back', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'postern-clock-')), 'skew')
    writeFileSync(file, 'soon')
    expect(() => startTestClock(file, () => {})).toThrow('whole number of seconds')
    writeFileSync(file, '60')
    const problems: string[] = []
    const { clock, stop } = startTestClock(file, (p) => problems.push(p))
    try {
      expect(clock() - Date.now()).toBeGreaterThanOrEqual(59_990)
      writeFileSync(file, '3600')
      await expect.poll(() => clock() - Date.now(), { timeout: 2_000 }).toBeGreaterThanOrEqual(3_599_990)
      writeFileSync(file, '0')
      await new Promise((r) => setTimeout(r, 300))
      expect(clock() - Date.now()).toBeGreaterThanOrEqual(3_599_990)
      writeFileSync(file, '-5')
      await expect.poll(() => problems.length, { timeout: 2_000 }).toBeGreaterThan(0)
    } finally {
      stop()
    }
  })
})
