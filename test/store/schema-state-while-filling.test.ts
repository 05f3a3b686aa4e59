import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bootstrap } from '../../src/control/bootstrap.js'
import { LATEST_SCHEMA, migrate } from '../../src/store/migrations.js'
import { openPostgres } from '../../src/store/postgres.js'
import { readSchemaState, restoreUnderWay } from '../../src/store/restore-under-way.js'
import type { Driver, Sql } from '../../src/store/sql.js'
import { createSqlStore } from '../../src/store/sql-store.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { createTestDatabase } from '../support/postgres.js'

/**
 * Processes started together on an empty database: one migrates and bootstraps while another
 * reads what is there. Whatever moment the reader starts at, and however the two interleave, a
 * database filling this way is no restore. Here the filler runs one transaction per query the
 * reader makes (the tightest interleaving), starting at every point of its own run.
 */
describe.each(['sqlite', 'postgres'] as const)('a database another process is filling is no restore (%s)', (dialect) => {
  it('at every starting point of the filling, the reader finds it new or whole', async () => {
    const found: string[] = []
    let head = 0
    for (; ; head++) {
      const { open, remove } = await emptyDatabase(dialect)
      const filler = turnTaking(open())
      const reader = open()
      try {
        const filling = fill(filler.driver).finally(filler.end)
        let given = 0
        for (; given < head && !filler.finished(); given++) await filler.turn()
        if (given < head) break
        const state = await readSchemaState(afterEachQuery(reader, () => filler.turn()))
        const why = restoreUnderWay(state, 'all')
        if (why !== undefined) found.push(`after ${head} transactions: ${why}`)
        while (!filler.finished()) await filler.turn()
        await filling
      } finally {
        await reader.close()
        await filler.driver.close()
        await remove()
      }
    }
    // Every migration and the bootstrap were a starting point.
    expect(head).toBeGreaterThan(LATEST_SCHEMA + 2)
    expect(found).toEqual([])
  }, 120_000)
})

/** What the first `postern serve` on an empty database writes: the schema, then the owner, project and organization policy. */
async function fill(driver: Driver): Promise<void> {
  await migrate(driver, 1)
  await bootstrap(createSqlStore(driver, () => 1), { owner: 'owner@example.com', project: 'my-project', now: 1 })
}

async function emptyDatabase(dialect: 'sqlite' | 'postgres'): Promise<{ open: () => Driver; remove: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'postern-filling-'))
    return { open: () => openSqlite(join(dir, 'postern.db')), remove: () => rm(dir, { recursive: true, force: true }) }
  }
  const db = await createTestDatabase()
  return { open: () => openPostgres(db.url, () => undefined), remove: db.drop }
}

/**
 * A driver whose transactions wait for turns: `turn()` lets the next one run and resolves once it
 * has committed; once `end()` is called (the work is over), at once. Statements outside
 * transactions run freely.
 */
function turnTaking(inner: Driver): { driver: Driver; turn: () => Promise<void>; end: () => void; finished: () => boolean } {
  const waiting: ((done: () => void) => void)[] = []
  const given: (() => void)[] = []
  let over = false
  const driver: Driver = {
    ...inner,
    async transaction(fn) {
      const done = await new Promise<() => void>((resolve) => {
        const turn = given.shift()
        if (turn) resolve(turn)
        else waiting.push(resolve)
      })
      try {
        return await inner.transaction(fn)
      } finally {
        done()
      }
    },
  }
  return {
    driver,
    finished: () => over,
    turn: () =>
      new Promise<void>((resolve) => {
        if (over) return resolve()
        const next = waiting.shift()
        if (next) next(resolve)
        else given.push(resolve)
      }),
    end: () => {
      over = true
      for (const turn of given.splice(0)) turn()
    },
  }
}

/** `driver`, calling `after` once each of its statements has answered. */
function afterEachQuery(driver: Driver, after: () => Promise<void>): Driver {
  const wrap = <K extends keyof Sql>(k: K) => (async (text: string, params?: readonly unknown[]) => {
    const result = await (driver.sql[k] as (t: string, p?: readonly unknown[]) => Promise<unknown>)(text, params)
    await after()
    return result
  }) as Sql[K]
  return { ...driver, sql: { all: wrap('all'), get: wrap('get'), run: wrap('run') } }
}
