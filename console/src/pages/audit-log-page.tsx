import { useEffect, useId, useState } from 'react'
import { paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { AuditEntry } from '../api/types.ts'
import { formatTime } from '../services/service-details.tsx'
import { ErrorText } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'

/** What each outcome is called here, and the filter's choices. */
const OUTCOMES: [string, string][] = [
  ['OK', 'Done'],
  ['PERMISSION_DENIED', 'Denied'],
  ['UNAUTHENTICATED', 'Sign-in failed'],
  ['RESOURCE_EXHAUSTED', 'Too many attempts'],
]
const outcomeLabel = (outcome: string) => OUTCOMES.find(([o]) => o === outcome)?.[1] ?? outcome

/**
 * GET /v1/auditLogs, newest first: one entry per change, and per principal, resource and minute
 * of refusals (denied calls and invocations, failed sign-ins) with how many there were.
 */
export function AuditLogPage({ project }: { project: string }) {
  const { api } = useSession()
  const [filters, setFilters] = useState({ resource: '', principal: '', outcome: '' })
  const [draft, setDraft] = useState(filters)
  const [pages, setPages] = useState<{ entries: AuditEntry[]; next?: string }>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(false)
  const ids = { resource: useId(), principal: useId(), outcome: useId() }

  const load = async (f: typeof filters, after?: string) => {
    setLoading(true)
    setError(undefined)
    try {
      const q = new URLSearchParams({ pageSize: '50' })
      if (f.resource) q.set('resource', f.resource)
      if (f.principal) q.set('principal', f.principal)
      if (f.outcome) q.set('outcome', f.outcome)
      if (after) q.set('pageToken', after)
      const r = await api.get<{ entries?: AuditEntry[]; nextPageToken?: string }>(paths.auditLogs(q))
      setPages((p) => ({ entries: [...(after ? (p?.entries ?? []) : []), ...(r.entries ?? [])], next: r.nextPageToken }))
    } catch (err) {
      setError(describeError(err, 'read the audit log'))
    } finally {
      setLoading(false)
    }
  }

  useEffect(() => {
    void load({ resource: '', principal: '', outcome: '' })
  }, [project]) // first page on arrival; later pages on request

  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Audit log</h1>
      </header>
      <p className="intro">Every change, every call that was denied and every failed sign-in, newest first; refusals are counted per principal, resource and minute. Resources of project <strong>{project}</strong> start with <span className="mono">projects/{project}</span>.</p>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault()
          setFilters(draft)
          void load(draft)
        }}
      >
        <div className="field">
          <label htmlFor={ids.resource}>Resource</label>
          <input id={ids.resource} value={draft.resource} placeholder={`projects/${project}/services/hello`} spellCheck={false} onChange={(e) => setDraft({ ...draft, resource: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.principal}>Principal</label>
          <input id={ids.principal} value={draft.principal} placeholder="user:ann@example.com" spellCheck={false} onChange={(e) => setDraft({ ...draft, principal: e.target.value })} />
        </div>
        <div className="field field-narrow">
          <label htmlFor={ids.outcome}>Outcome</label>
          <select id={ids.outcome} value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.target.value })}>
            <option value="">All</option>
            {OUTCOMES.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        <button type="submit" className="button">Apply filters</button>
      </form>
      <ErrorText message={error} />
      <table className="table table-stack">
        <caption className="visually-hidden">Audit log entries</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Principal</th>
            <th scope="col">Action</th>
            <th scope="col">Resource</th>
            <th scope="col">Outcome</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(pages?.entries ?? []).map((e) => (
            <tr key={e.id}>
              <td className="nowrap" data-label="Time">{formatTime(e.time)}</td>
              <td className="mono" data-label="Principal"><bdi>{e.principal}</bdi></td>
              <td className="mono" data-label="Action">{e.method}</td>
              <td className="mono" data-label="Resource"><bdi>{e.resource}</bdi></td>
              <td data-label="Outcome"><span className={e.outcome === 'OK' ? 'outcome outcome-ok' : 'outcome outcome-denied'}>{outcomeLabel(e.outcome)}</span>{(e.count ?? 1) > 1 && <span className="count"> ×{e.count}</span>}</td>
              <td data-label="Details">
                {Object.keys(e.details ?? {}).length > 0 && (
                  <details>
                    <summary>Show<span className="visually-hidden"> details of {e.method}</span></summary>
                    <pre className="json">{JSON.stringify(e.details, null, 2)}</pre>
                  </details>
                )}
              </td>
            </tr>
          ))}
          {pages && pages.entries.length === 0 && (
            <tr><td colSpan={6} className="empty">No entries match.</td></tr>
          )}
          {loading && !pages && (
            <tr><td colSpan={6} className="empty">Loading…</td></tr>
          )}
        </tbody>
      </table>
      {pages?.next && (
        <p>
          <button type="button" className="button" disabled={loading} onClick={() => void load(filters, pages.next)}>Load older entries</button>
        </p>
      )}
    </div>
  )
}
