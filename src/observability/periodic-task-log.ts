import type { Clock } from '../core/clock.js'
import type { Level, Logger } from '../core/log.js'
import { FailureStreak } from './failure-streak.js'

/**
 * The log of a task run every few seconds or every minute (main.ts's maintenance): one line
 * (`warn`, or `error` for a task whose failure matters more) as it starts failing, one `info`
 * line as it recovers with how long and how often it failed (FailureStreak), nothing on the runs
 * in between. A database without Postern's tables, or out of reach, fails every run for as long
 * as it lasts; a line per run of each task would bury the lines that say why.
 */
export function periodicTaskLog(
  task: string,
  o: {
    log: Logger
    clock: Clock
    level?: Extract<Level, 'warn' | 'error'>
    /** Whether a failure now is already explained by a line of its own (the database changed under the run): then it is not counted. */
    explained?: () => boolean
  },
): (run: Promise<unknown>) => void {
  const streak = new FailureStreak()
  return (run) => {
    run.then(
      () => {
        const ended = streak.succeeded(o.clock())
        if (ended) o.log.log('info', `${task} recovered`, ended)
      },
      (err: unknown) => {
        if (o.explained?.()) return
        if (streak.failed(o.clock())) o.log.log(o.level ?? 'warn', `${task} failed; not warned of again until it recovers`, { err: String(err) })
      },
    )
  }
}
