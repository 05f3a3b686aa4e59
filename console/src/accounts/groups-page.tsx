import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Group } from '../api/types.ts'
import { ConfirmDialog, ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { usePermissionState } from '../ui/permissions.ts'
import { RoleHint } from '../ui/role-hint.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

/** A bare email means a user, as in the Add principal dialog. */
function memberOf(typed: string): string {
  const t = typed.trim()
  return /^(user|group|serviceAccount):/i.test(t) ? t : `user:${t}`
}

/** Groups of the installation: grant a role to a group once, then manage who is in it here. */
export function GroupsPage() {
  const { api } = useSession()
  const list = useLoad(async () => (await api.get<{ groups?: Group[] }>(paths.groups())).groups ?? [], 'groups')
  const permissions = usePermissionState(paths.organization(), ['postern.groups.create', 'postern.groups.update', 'postern.groups.delete'])
  const allowed = permissions.allowed
  const [creating, setCreating] = useState(false)
  const [opened, setOpened] = useState<Group>()
  const [deleting, setDeleting] = useState<Group>()
  const [status, setStatus] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const remove = async (group: Group) => {
    setBusy(true)
    setError(undefined)
    try {
      await api.delete(paths.group(group.email))
      setDeleting(undefined)
      setStatus(`Deleted ${group.email}. Bindings that named it now read deleted:group:…`)
      list.reload()
    } catch (err) {
      setError(describeError(err, `delete ${group.email}`))
    } finally {
      setBusy(false)
    }
  }

  const groups = list.data ?? []
  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Groups</h1>
        <div className="toolbar">
          {allowed.has('postern.groups.create') && <button type="button" className="button button-primary" onClick={() => setCreating(true)}>Create group</button>}
        </div>
      </header>
      <p className="intro">A group holds users, service accounts and other groups. Grant a role to <span className="mono">group:EMAIL</span> once, then add and remove people here; a change counts at every gateway within a second.</p>
      {permissions.known && !allowed.has('postern.groups.update') && <RoleHint permission="postern.groups.update" action="create groups and change their members" on="the organization" />}
      <p className="status-text" role="status">{status}</p>
      {list.error !== undefined && <ErrorText message={describeError(list.error, 'list groups')} />}
      <table className="table table-stack">
        <caption className="visually-hidden">Groups</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Display name</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.email}>
              <th scope="row" className="mono" data-label="Email">{g.email}</th>
              <td data-label="Display name"><bdi>{g.displayName || '—'}</bdi></td>
              <td className="actions">
                <button type="button" className="button button-small" aria-label={`Members of ${g.email}`} onClick={() => setOpened(g)}>Members</button>
                {allowed.has('postern.groups.delete') && (
                  <button type="button" className="button button-small button-quiet" aria-label={`Delete ${g.email}`} onClick={() => { setError(undefined); setDeleting(g) }}>Delete</button>
                )}
              </td>
            </tr>
          ))}
          {list.data && groups.length === 0 && <tr><td colSpan={3} className="empty">No groups yet.</td></tr>}
          {list.loading && !list.data && <tr><td colSpan={3} className="empty">Loading groups…</td></tr>}
        </tbody>
      </table>
      {creating && (
        <CreateGroupDialog
          onClose={() => setCreating(false)}
          onCreated={(g) => {
            setCreating(false)
            setStatus(`Created ${g.email}.`)
            list.reload()
            setOpened(g)
          }}
        />
      )}
      {opened && <MembersDialog group={opened} canEdit={allowed.has('postern.groups.update')} onClose={() => setOpened(undefined)} />}
      {deleting && (
        <ConfirmDialog title="Delete group?" confirmLabel="Delete" busy={busy} error={error} onConfirm={() => void remove(deleting)} onClose={() => setDeleting(undefined)}>
          <p><strong>{deleting.email}</strong> will be deleted; its members lose what the group granted them at once.</p>
        </ConfirmDialog>
      )}
    </div>
  )
}

function CreateGroupDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (g: Group) => void }) {
  const { api } = useSession()
  const [email, setEmail] = useState('')
  const [displayName, setDisplayName] = useState('')
  const [emailError, setEmailError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { email: useId(), emailError: useId(), name: useId() }

  const create = async () => {
    setFormError(undefined)
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) return setEmailError('A group is named by an email address, e.g. eng@example.com.')
    setEmailError(undefined)
    setBusy(true)
    try {
      onCreated(await api.post<Group>(paths.groups(), { email: email.trim(), ...(displayName.trim() && { displayName: displayName.trim() }) }))
    } catch (err) {
      const message = describeError(err, 'create groups')
      if (err instanceof ApiError && (err.status === 'ALREADY_EXISTS' || err.status === 'INVALID_ARGUMENT')) setEmailError(message)
      else setFormError(message)
      setBusy(false)
    }
  }

  return (
    <Modal title="Create group" onClose={onClose} onSubmit={() => void create()} footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}>
      <div className="field">
        <label htmlFor={ids.email}>Group email</label>
        <input id={ids.email} value={email} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setEmail(e.target.value)}
          aria-invalid={emailError ? true : undefined} aria-describedby={emailError ? ids.emailError : undefined} />
        <ErrorText id={ids.emailError} message={emailError} />
      </div>
      <div className="field">
        <label htmlFor={ids.name}>Display name</label>
        <input id={ids.name} value={displayName} maxLength={100} onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      <ErrorText message={formError} />
    </Modal>
  )
}

function MembersDialog({ group, canEdit, onClose }: { group: Group; canEdit: boolean; onClose: () => void }) {
  const { api } = useSession()
  const detail = useLoad(() => api.get<Group>(paths.group(group.email)), group.email)
  const [typed, setTyped] = useState('')
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { member: useId(), help: useId(), error: useId() }

  const add = async () => {
    if (!typed.trim()) return setProblem('Enter an email, or user:, group: or serviceAccount: followed by one.')
    setBusy(true)
    setProblem(undefined)
    try {
      await api.post(paths.groupMembers(group.email), { member: memberOf(typed) })
      setTyped('')
      detail.reload()
    } catch (err) {
      setProblem(describeError(err, `add members to ${group.email}`))
    } finally {
      setBusy(false)
    }
  }

  const removeMember = async (member: string) => {
    setProblem(undefined)
    try {
      await api.delete(paths.groupMember(group.email, member))
      detail.reload()
    } catch (err) {
      setProblem(describeError(err, `remove ${member} from ${group.email}`))
    }
  }

  const members = detail.data?.members ?? []
  return (
    <Modal
      title={`Members of ${group.email}`}
      onClose={onClose}
      onSubmit={() => void add()}
      footer={<button type="button" className="button" onClick={onClose}>Close</button>}
    >
      {detail.error !== undefined && <ErrorText message={describeError(detail.error, `read ${group.email}`)} />}
      {detail.data && members.length === 0 && <p className="muted">No members yet.</p>}
      <ul className="member-list" aria-label="Members">
        {members.map((m) => (
          <li key={m} className="member member-row">
            <span className="member-id mono">{m}</span>
            {canEdit && <button type="button" className="button button-small button-quiet" aria-label={`Remove ${m}`} onClick={() => void removeMember(m)}>Remove</button>}
          </li>
        ))}
      </ul>
      {canEdit && (
        <div className="field add-member">
          <label htmlFor={ids.member}>Add member</label>
          <div className="inline-field">
            <input id={ids.member} value={typed} autoFocus autoComplete="off" spellCheck={false} placeholder="ann@example.com" onChange={(e) => setTyped(e.target.value)}
              aria-invalid={problem ? true : undefined} aria-describedby={`${ids.help}${problem ? ` ${ids.error}` : ''}`} />
            <button type="submit" className="button button-primary" disabled={busy}>{busy ? 'Adding…' : 'Add'}</button>
          </div>
          <p className="help" id={ids.help}>An email (a user), or user:, group: or serviceAccount: followed by one. The account must exist.</p>
          <ErrorText id={ids.error} message={problem} />
        </div>
      )}
    </Modal>
  )
}
