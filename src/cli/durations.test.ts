import { describe, expect, it } from 'vitest'
import { timeoutSeconds } from './durations.js'

describe('--timeout', () => {
  it("takes seconds or gcloud run's durations", () => {
    expect(timeoutSeconds('300')).toBe(300)
    expect(timeoutSeconds('45s')).toBe(45)
    expect(timeoutSeconds('5m')).toBe(300)
    expect(timeoutSeconds('10m5s')).toBe(605)
    expect(timeoutSeconds('1h')).toBe(3600)
  })

  it('refuses what is no duration, or out of 1s–1h, as a usage error saying which', () => {
    for (const bad of ['abc', '1.5', '5x', 'm', '', '5s10m', '-5']) expect(() => timeoutSeconds(bad), bad).toThrow(/expected seconds or a duration such as 300, 5m or 10m5s/)
    for (const bad of ['0', '5000', '1h1s', '61m']) expect(() => timeoutSeconds(bad), bad).toThrow(/--timeout must be between 1s and 1h \(3600 seconds\)/)
    const caught = (() => {
      try {
        timeoutSeconds('5000')
      } catch (err) {
        return err
      }
    })()
    expect(caught).toMatchObject({ exitCode: 2 })
  })
})
