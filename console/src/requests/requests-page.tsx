import { useId, useState } from 'react'
import { describeError } from '../api/describe-error.ts'
import { useRoles } from '../iam/use-roles.ts'
import { formatTime } from '../services/service-details.tsx'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { consolePath, Link } from '../ui/router.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import {
  accessRequestPaths, editableDuration, listAccessRequests, parseDuration, readableDuration, REQUESTS_CHANGED, type AccessRequest,
} from './access-requests.ts'
import './requests.css'

type Decision = { kind: 'approve' | 'deny'; request: AccessRequest }

/** Requests shown at first, and added by each Show more. */
const PAGE_SIZE = 100

/**
 * Requests for time-limited access (DESIGN §9): the pending ones first, with Approve and Deny for
 * those the signed-in person may decide (whoever may set the service's policy, except on their
 * own request), then what was decided recently.
 */
export function RequestsPage() {
  const { api } = useSession()
  const roles = useRoles()
  // The newest `shown` requests; Show more asks for a page more (all again, so a reload stays simple).
  const [shown, setShown] = useState(PAGE_SIZE)
  const list = useLoad(() => listAccessRequests(api, { max: shown }), `requests:${shown}`)
  const [deciding, setDeciding] = useState<Decision>()
  const [status, setStatus] = useState('')
  const rows = list.data?.requests ?? []
  const pending = rows.filter((r) => r.state === 'PENDING')
  const decided = rows.filter((r) => r.state !== 'PENDING')
  const roleTitle = (name: string) => roles.find((r) => r.name === name)?.title ?? name

  const done = (message: string) => {
    setDeciding(undefined)
    setStatus(message)
    list.reload()
    window.dispatchEvent(new Event(REQUESTS_CHANGED))
  }

  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Access requests</h1>
        <div className="toolbar">
          <button type="button" className="button button-quiet" onClick={() => list.reload()}>Refresh</button>
        </div>
      </header>
      <p className="intro">
        People ask for a role on a service for a limited time with <span className="mono">postern services request-access</span>. Whoever may
        change the service's permissions can approve or deny; an approved grant ends by itself, and Postern then removes it.
      </p>
      <p className="status-text" role="status">{status}</p>
      {list.error !== undefined && <ErrorText message={describeError(list.error, 'list access requests')} />}
      {list.data?.nextPageToken !== undefined && (
        <p className="intro" role="note">
          Showing the newest {rows.length} requests; there are older ones, which may include pending requests.{' '}
          <button type="button" className="button button-quiet button-small" onClick={() => setShown(shown + PAGE_SIZE)}>Show more</button>
        </p>
      )}

      <h2>Pending</h2>
      <table className="table">
        <caption className="visually-hidden">Pending access requests</caption>
        <thead>
          <tr>
            <th scope="col">Requester</th>
            <th scope="col">Service</th>
            <th scope="col">Role</th>
            <th scope="col">For</th>
            <th scope="col">Reason</th>
            <th scope="col">Asked</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {pending.map((r) => (
            <tr key={r.id}>
              <th scope="row" className="mono">{r.requester}</th>
              <td><ServiceLink request={r} /></td>
              <td>{roleTitle(r.role)}</td>
              <td className="nowrap">{readableDuration(r.requestedDuration)}</td>
              <td className="wrap"><bdi>{r.reason}</bdi></td>
              <td className="nowrap">{formatTime(r.createTime)}</td>
              <td className="nowrap">
                {r.canDecide ? (
                  <div className="toolbar">
                    <button type="button" className="button button-primary button-small" aria-label={`Approve request ${r.id} from ${r.requester}`} onClick={() => setDeciding({ kind: 'approve', request: r })}>Approve</button>
                    <button type="button" className="button button-small" aria-label={`Deny request ${r.id} from ${r.requester}`} onClick={() => setDeciding({ kind: 'deny', request: r })}>Deny</button>
                  </div>
                ) : (
                  <span className="muted">Your request: waiting for an approver</span>
                )}
              </td>
            </tr>
          ))}
          {list.data && pending.length === 0 && (
            <tr><td colSpan={7} className="empty">No pending requests.</td></tr>
          )}
          {list.loading && !list.data && (
            <tr><td colSpan={7} className="empty">Loading…</td></tr>
          )}
        </tbody>
      </table>

      <h2 className="section-heading">Decided</h2>
      <table className="table">
        <caption className="visually-hidden">Decided access requests</caption>
        <thead>
          <tr>
            <th scope="col">Requester</th>
            <th scope="col">Service</th>
            <th scope="col">Role</th>
            <th scope="col">Outcome</th>
            <th scope="col">By</th>
            <th scope="col">Ends</th>
          </tr>
        </thead>
        <tbody>
          {decided.map((r) => (
            <tr key={r.id}>
              <th scope="row" className="mono">{r.requester}</th>
              <td><ServiceLink request={r} /></td>
              <td>{roleTitle(r.role)}</td>
              <td><Outcome request={r} /></td>
              <td className="mono">{r.decider ?? ''}</td>
              <td className="nowrap">{r.expireTime ? formatTime(r.expireTime) : '—'}</td>
            </tr>
          ))}
          {list.data && decided.length === 0 && (
            <tr><td colSpan={6} className="empty">Nothing decided yet.</td></tr>
          )}
        </tbody>
      </table>

      {deciding?.kind === 'approve' && <ApproveDialog request={deciding.request} roleTitle={roleTitle(deciding.request.role)} onClose={() => setDeciding(undefined)} onDone={done} />}
      {deciding?.kind === 'deny' && <DenyDialog request={deciding.request} onClose={() => setDeciding(undefined)} onDone={done} />}
    </div>
  )
}

function ServiceLink({ request }: { request: AccessRequest }) {
  return <Link to={consolePath.service(request.project, request.service)}>{request.service}</Link>
}

function Outcome({ request }: { request: AccessRequest }) {
  const [label, ok] = request.state === 'APPROVED' ? ['Approved', true] : request.state === 'EXPIRED' ? ['Ended', true] : ['Denied', false]
  return <span className={ok ? 'outcome outcome-ok' : 'outcome outcome-denied'} title={request.denialReason}>{label}</span>
}

function ApproveDialog({ request, roleTitle, onClose, onDone }: { request: AccessRequest; roleTitle: string; onClose: () => void; onDone: (message: string) => void }) {
  const { api } = useSession()
  const ids = { duration: useId(), help: useId(), error: useId() }
  const [duration, setDuration] = useState(editableDuration(request.requestedDuration))
  const [durationError, setDurationError] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const approve = async () => {
    const seconds = parseDuration(duration)
    if (seconds === undefined) {
      setDurationError(`“${duration}” is not a duration; write it like 30m, 2h or 1d.`)
      return
    }
    setBusy(true)
    setError(undefined)
    try {
      const approved = await api.post<AccessRequest>(accessRequestPaths.approve(request.id), { duration: `${seconds}s` })
      onDone(`Approved: ${request.requester} holds ${roleTitle} on ${request.service} until ${formatTime(approved.expireTime ?? '')}.`)
    } catch (err) {
      setError(describeError(err, `approve access to ${request.service}`))
      setBusy(false)
    }
  }

  return (
    <Modal title="Approve access request" onClose={onClose} onSubmit={() => void approve()} footer={<SubmitActions label="Approve" busyLabel="Approving…" busy={busy} onCancel={onClose} />}>
      <p>
        <span className="mono">{request.requester}</span> asks for <strong>{roleTitle}</strong> on <strong>{request.service}</strong> (project {request.project}):
      </p>
      <blockquote className="reason">{request.reason}</blockquote>
      <div className="field">
        <label htmlFor={ids.duration}>Duration</label>
        <input
          id={ids.duration}
          value={duration}
          autoFocus
          spellCheck={false}
          onChange={(e) => {
            setDuration(e.target.value)
            setDurationError(undefined)
          }}
          aria-invalid={durationError ? true : undefined}
          aria-describedby={`${ids.help}${durationError ? ` ${ids.error}` : ''}`}
        />
        <p className="help" id={ids.help}>Asked for {readableDuration(request.requestedDuration)}. The grant ends by itself after this long.</p>
        <ErrorText id={ids.error} message={durationError} />
      </div>
      <ErrorText message={error} />
    </Modal>
  )
}

function DenyDialog({ request, onClose, onDone }: { request: AccessRequest; onClose: () => void; onDone: (message: string) => void }) {
  const { api } = useSession()
  const id = useId()
  const [reason, setReason] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const deny = async () => {
    setBusy(true)
    setError(undefined)
    try {
      await api.post(accessRequestPaths.deny(request.id), reason.trim() ? { reason } : {})
      onDone(`Denied the request of ${request.requester} for ${request.service}.`)
    } catch (err) {
      setError(describeError(err, `deny access to ${request.service}`))
      setBusy(false)
    }
  }

  return (
    <Modal title="Deny access request" onClose={onClose} onSubmit={() => void deny()} footer={<SubmitActions label="Deny" busyLabel="Denying…" busy={busy} onCancel={onClose} />}>
      <p><span className="mono">{request.requester}</span> will not get access to <strong>{request.service}</strong>.</p>
      <div className="field">
        <label htmlFor={id}>Reason (optional)</label>
        <textarea id={id} rows={2} value={reason} autoFocus onChange={(e) => setReason(e.target.value)} />
      </div>
      <ErrorText message={error} />
    </Modal>
  )
}
