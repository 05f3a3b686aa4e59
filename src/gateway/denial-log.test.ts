import { describe, expect, it } from 'vitest'
import { createLogger } from '../core/log.js'
import { migrate } from '../store/migrations.js'
import { createSqlStore } from '../store/sql-store.js'
import { openSqlite } from '../store/sqlite.js'
import { DenialLog } from './denial-log.js'

describe('DenialLog', () => {
  it('while held (a restore may be filling the database) writes nothing, and writes the counted entries once let go', async () => {
    const driver = openSqlite(':memory:')
    await migrate(driver, 0)
    const store = createSqlStore(driver, () => 1_000)
    const lines: string[] = []
    let held = true
    const denials = new DenialLog(store, createLogger((l) => void lines.push(l)), () => 1_000, { flushMs: 3_600_000, held: () => held })
    const denied = { time: 1_000, principal: 'user:eve@example.com', method: 'run.routes.invoke', resource: 'projects/p/services/api', outcome: 'PERMISSION_DENIED', details: {} }
    denials.record(denied)
    denials.record(denied)
    await denials.flush()
    expect(await store.listAudit({ resource: denied.resource, limit: 10 })).toEqual([])

    held = false
    await denials.flush()
    expect(await store.listAudit({ resource: denied.resource, limit: 10 })).toEqual([expect.objectContaining({ principal: denied.principal, count: 2 })])
    await denials.close()
    expect(lines).toEqual([])
    await store.close()
  })

  it('says how many entries it could not write when it stops while held', async () => {
    const driver = openSqlite(':memory:')
    await migrate(driver, 0)
    const store = createSqlStore(driver, () => 1_000)
    const lines: string[] = []
    const denials = new DenialLog(store, createLogger((l) => void lines.push(l)), () => 1_000, { flushMs: 3_600_000, held: () => true })
    denials.record({ time: 1_000, principal: 'user:eve@example.com', method: 'run.routes.invoke', resource: 'projects/p/services/api', outcome: 'PERMISSION_DENIED', details: {} })
    await denials.close()
    expect(await store.listAudit({ limit: 10 })).toEqual([])
    expect(lines.join('')).toContain('"entries":1')
    await store.close()
  })
})
