import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { openSqlite } from './sqlite.js'

/**
 * What the embedded store tells of its writes (main.ts logs a full disk from it, once as writes
 * start being refused and once as they are taken again): a write that changed rows is taken; a
 * refusal for room (SQLITE_FULL, here by SQLite's own page limit) is told with the caller's 503;
 * a read, or a write that changed nothing (a purge with nothing to purge, which passes on a full
 * disk too), tells nothing, or it would say "taken again" while the disk is still full.
 */
describe('openSqlite: write outcomes', () => {
  it('tells rows changed as taken, SQLITE_FULL as refused, and nothing of reads or writes that changed nothing', async () => {
    const seen: (string | undefined)[] = []
    const driver = openSqlite(':memory:', (refused) => seen.push(refused && `${refused instanceof PosternError && refused.status}: ${refused.condition}`))
    await driver.sql.run('CREATE TABLE t (v TEXT)')
    seen.length = 0
    await driver.sql.run('INSERT INTO t VALUES (?)', ['a'])
    expect(seen).toEqual([undefined])
    await driver.sql.run('DELETE FROM t WHERE v = ?', ['none'])
    await driver.transaction(async (tx) => tx.run('UPDATE t SET v = ? WHERE v = ?', ['b', 'none']))
    await driver.sql.all('SELECT * FROM t')
    expect(seen).toEqual([undefined])

    const pages = (await driver.sql.get<{ page_count: number }>('PRAGMA page_count'))!.page_count
    await driver.sql.run(`PRAGMA max_page_count = ${pages}`)
    seen.length = 0
    await expect(driver.transaction(async (tx) => tx.run('INSERT INTO t VALUES (?)', ['x'.repeat(100_000)]))).rejects.toMatchObject({ status: 'UNAVAILABLE', message: expect.stringContaining('The disk holding the database is full; nothing was changed.') })
    await driver.sql.run('DELETE FROM t WHERE v = ?', ['none'])
    expect(seen).toEqual(['UNAVAILABLE: The disk holding the database is full'])
    await driver.close()
  })
})
