import type { AuditEntry, Change, ChangeKind } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { num, str, type Row } from './rows.js'

const audit = (r: Row): AuditEntry => ({
  id: num(r.id),
  time: num(r.time),
  principal: str(r.principal),
  method: str(r.method),
  resource: str(r.resource),
  outcome: str(r.outcome),
  details: JSON.parse(str(r.details)) as Record<string, unknown>,
  count: num(r.occurrences),
})

export const change = (r: Row): Change => ({ seq: num(r.seq), kind: str(r.kind) as ChangeKind, key: str(r.key), ...(r.time !== undefined && r.time !== null && { time: num(r.time) }) })

export function journalQueries(sql: Sql, beforeFirstChange: () => Promise<void>, clock: () => number): Pick<StoreTx, 'appendAudit' | 'countAudit' | 'purgeAudit' | 'listAudit' | 'recordChange'> {
  return {
    async appendAudit(e) {
      await sql.run(`INSERT INTO audit_log (time, principal, method, resource, outcome, details) VALUES (?, ?, ?, ?, ?, ?)`, [
        e.time, e.principal, e.method, e.resource, e.outcome, JSON.stringify(e.details),
      ])
    },
    async countAudit(e, aggregateKey, count) {
      await sql.run(
        `INSERT INTO audit_log (time, principal, method, resource, outcome, details, occurrences, aggregate_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (aggregate_key) DO UPDATE SET occurrences = audit_log.occurrences + excluded.occurrences`,
        [e.time, e.principal, e.method, e.resource, e.outcome, JSON.stringify(e.details), count, aggregateKey],
      )
    },
    async purgeAudit(before) {
      return sql.run(`DELETE FROM audit_log WHERE time < ?`, [before])
    },
    async listAudit({ resource, principal, outcome, beforeId, limit }) {
      const conditions: [string, unknown][] = []
      if (resource) conditions.push(['resource = ?', resource])
      if (principal) conditions.push(['principal = ?', principal])
      if (outcome) conditions.push(['outcome = ?', outcome])
      if (beforeId !== undefined) conditions.push(['id < ?', beforeId])
      const clause = conditions.length ? `WHERE ${conditions.map(([c]) => c).join(' AND ')}` : ''
      const params = [...conditions.map(([, p]) => p), limit]
      return (await sql.all(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT ?`, params)).map(audit)
    },
    async recordChange(kind: ChangeKind, key: string) {
      await beforeFirstChange()
      await sql.run(`INSERT INTO changes (kind, key, time) VALUES (?, ?, ?)`, [kind, key, clock()])
    },
  }
}
