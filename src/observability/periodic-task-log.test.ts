import { describe, expect, it } from 'vitest'
import type { Level } from '../core/log.js'
import { periodicTaskLog } from './periodic-task-log.js'

/** Runs a task's outcomes through periodicTaskLog, one at a time, and returns what it logged. */
async function logged(outcomes: ('ok' | 'fail' | 'fail, explained')[], level?: 'warn' | 'error') {
  const lines: { level: Level; msg: string; fields?: Record<string, unknown> }[] = []
  let now = 0
  let explained = false
  const runs = periodicTaskLog('audit-log purge', { log: { log: (l, msg, fields) => lines.push({ level: l, msg, fields }) }, clock: () => now, level, explained: () => explained })
  for (const outcome of outcomes) {
    explained = outcome === 'fail, explained'
    const run = outcome === 'ok' ? Promise.resolve() : Promise.reject(new Error('relation "audit" does not exist'))
    runs(run)
    await run.catch(() => undefined)
    await new Promise((r) => setImmediate(r))
    now += 60_000
  }
  return lines
}

describe('periodicTaskLog: a periodic task says once that it fails and once that it recovered', () => {
  it('says nothing while every run succeeds', async () => {
    expect(await logged(['ok', 'ok', 'ok'])).toEqual([])
  })

  it('warns on the first failed run only, and says the recovery once, with how often and how long', async () => {
    expect(await logged(['ok', 'fail', 'fail', 'fail', 'ok', 'ok'])).toEqual([
      { level: 'warn', msg: 'audit-log purge failed; not warned of again until it recovers', fields: { err: 'Error: relation "audit" does not exist' } },
      { level: 'info', msg: 'audit-log purge recovered', fields: { failedRuns: 3, failingForMs: 180_000 } },
    ])
  })

  it('a task whose failure matters more says it at its own level', async () => {
    const lines = await logged(['fail', 'fail'], 'error')
    expect(lines.map((l) => l.level)).toEqual(['error'])
  })

  it('a failure already explained (the database changed under the run) is neither warned of nor counted', async () => {
    expect(await logged(['fail, explained', 'ok', 'fail, explained', 'fail, explained', 'ok'])).toEqual([])
    expect(await logged(['fail', 'fail, explained', 'ok'])).toEqual([
      { level: 'warn', msg: 'audit-log purge failed; not warned of again until it recovers', fields: { err: 'Error: relation "audit" does not exist' } },
      { level: 'info', msg: 'audit-log purge recovered', fields: { failedRuns: 1, failingForMs: 120_000 } },
    ])
  })
})
