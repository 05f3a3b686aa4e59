import { readFileSync } from 'node:fs'
import type { Clock } from './clock.js'
import { invalid } from './errors.js'

/** The environment variable that names the file; see testClockFileFrom for when it is honoured. */
export const TEST_CLOCK_ENV = 'POSTERN_TEST_ONLY_CLOCK_FILE'

/**
 * A clock the end-to-end tests can move forward, to see what passing time does (an access grant
 * ending, its binding swept away) without waiting hours for it. Production must never run on it,
 * so it takes more than one mistake to turn on and does little harm if it is:
 * - it needs two settings nothing else uses, POSTERN_TEST_ONLY_CLOCK_FILE and NODE_ENV=test, and
 *   `postern serve` refuses it unless it listens on a loopback address only;
 * - it only runs ahead (the file holds a whole number of seconds to add, never fewer than 0):
 *   a clock that is ahead makes tokens, sessions and grants end sooner, never last longer;
 * - the server prints a WARNING at start;
 * - only who can write the file moves the clock: there is no endpoint for it.
 * The file is read again every 50 ms. (Not fs.watchFile: its first status is taken a moment
 * after it starts, so a change made in that moment was never seen.)
 */
export function testClockFileFrom(env: Record<string, string | undefined>, loopbackOnly: boolean): string | undefined {
  const file = env[TEST_CLOCK_ENV]
  if (file === undefined || file === '') return undefined
  if (env.NODE_ENV !== 'test') throw invalid(`${TEST_CLOCK_ENV} is for Postern's own tests and is honoured only with NODE_ENV=test; unset it.`)
  if (!loopbackOnly) throw invalid(`${TEST_CLOCK_ENV} is honoured only when Postern listens on a loopback address; unset it.`)
  return file
}

export function startTestClock(file: string, onProblem: (message: string) => void): { clock: Clock; stop: () => void } {
  const initial = readSkew(file)
  if (initial === undefined || initial === null) throw new Error(`${TEST_CLOCK_ENV}: ${file} must hold a whole number of seconds (0 or more) to add to the clock.`)
  let skewMs = initial
  let reported: string | undefined
  const poll = setInterval(() => {
    const next = readSkew(file)
    if (next === null) return // caught between a write's truncation and its text
    if (next !== undefined) skewMs = Math.max(skewMs, next) // never backwards
    const problem = next === undefined ? `${file} does not hold a whole number of seconds (0 or more); the clock stays ${skewMs / 1000} s ahead.` : undefined
    if (problem !== undefined && problem !== reported) onProblem(problem)
    reported = problem
  }, 50)
  poll.unref()
  return { clock: () => Date.now() + skewMs, stop: () => clearInterval(poll) }
}

/** The file's seconds in ms; undefined when it holds anything else, null when it is empty. */
function readSkew(file: string): number | undefined | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
  if (text === '') return null
  return /^\d{1,9}$/.test(text) ? Number(text) * 1000 : undefined
}
