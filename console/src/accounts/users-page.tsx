import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { User } from '../api/types.ts'
import { formatTime } from '../services/service-details.tsx'
import { ConfirmDialog, ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { usePermissionState } from '../ui/permissions.ts'
import { RoleHint } from '../ui/role-hint.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

/** A password as strong as the server's generated ones: 15 random bytes, base64url. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(15))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Local accounts of the installation (organizations/local): create, disable, reset a password, delete. */
export function UsersPage() {
  const { api, email: me } = useSession()
  const list = useLoad(async () => (await api.get<{ users?: User[] }>(paths.users())).users ?? [], 'users')
  const permissions = usePermissionState(paths.organization(), ['postern.users.create', 'postern.users.update', 'postern.users.delete'])
  const allowed = permissions.allowed
  const [creating, setCreating] = useState(false)
  const [resetting, setResetting] = useState<User>()
  const [deleting, setDeleting] = useState<User>()
  const [shownOnce, setShownOnce] = useState<{ email: string; password: string }>()
  const [status, setStatus] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const setDisabled = async (user: User, disabled: boolean) => {
    setError(undefined)
    try {
      await api.patch(paths.user(user.email), { disabled })
      setStatus(disabled ? `Disabled ${user.email}: their sessions ended and their tokens stop working within a second.` : `Enabled ${user.email}.`)
      list.reload()
    } catch (err) {
      setError(describeError(err, `${disabled ? 'disable' : 'enable'} ${user.email}`))
    }
  }

  const remove = async (user: User) => {
    setBusy(true)
    setError(undefined)
    try {
      await api.delete(paths.user(user.email))
      setDeleting(undefined)
      setStatus(`Deleted ${user.email}. Bindings that named the account now read deleted:user:…`)
      list.reload()
    } catch (err) {
      setError(describeError(err, `delete ${user.email}`))
    } finally {
      setBusy(false)
    }
  }

  const users = list.data ?? []
  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Users</h1>
        <div className="toolbar">
          {allowed.has('postern.users.create') && <button type="button" className="button button-primary" onClick={() => setCreating(true)}>Create user</button>}
        </div>
      </header>
      <p className="intro">People who sign in with a Postern password. Grant them roles on services or projects from a service’s Permissions panel, or through a group.</p>
      {permissions.known && !allowed.has('postern.users.create') && <RoleHint permission="postern.users.create" action="create, disable and reset users" on="the organization" />}
      <p className="status-text" role="status">{status}</p>
      {shownOnce && (
        <div className="callout" role="note" aria-label="New password">
          <p>Password for <strong>{shownOnce.email}</strong> — shown once, copy it now and pass it on safely:</p>
          <p><code className="secret">{shownOnce.password}</code></p>
          <button type="button" className="button button-small" onClick={() => setShownOnce(undefined)}>Done</button>
        </div>
      )}
      <ErrorText message={error} />
      {list.error !== undefined && <ErrorText message={describeError(list.error, 'list users')} />}
      <table className="table table-stack">
        <caption className="visually-hidden">Users</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Display name</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.email}>
              <th scope="row" className="mono" data-label="Email">{u.email}</th>
              <td data-label="Display name"><bdi>{u.displayName || '—'}</bdi></td>
              <td data-label="Status">{u.disabled ? 'Disabled' : 'Enabled'}</td>
              <td data-label="Created">{formatTime(u.createTime)}</td>
              <td className="actions">
                {allowed.has('postern.users.update') && u.email !== me && (
                  <button type="button" className="button button-small" aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.email}`} onClick={() => void setDisabled(u, !u.disabled)}>
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                )}
                {allowed.has('postern.users.update') && (
                  <button type="button" className="button button-small" aria-label={`Reset the password of ${u.email}`} onClick={() => setResetting(u)}>Reset password</button>
                )}
                {allowed.has('postern.users.delete') && u.email !== me && (
                  <button type="button" className="button button-small button-quiet" aria-label={`Delete ${u.email}`} onClick={() => { setError(undefined); setDeleting(u) }}>Delete</button>
                )}
              </td>
            </tr>
          ))}
          {list.data && users.length === 0 && <tr><td colSpan={5} className="empty">No users.</td></tr>}
          {list.loading && !list.data && <tr><td colSpan={5} className="empty">Loading users…</td></tr>}
        </tbody>
      </table>
      {creating && (
        <CreateUserDialog
          onClose={() => setCreating(false)}
          onCreated={(u, password) => {
            setCreating(false)
            setStatus(`Created ${u.email}.`)
            if (password) setShownOnce({ email: u.email, password })
            list.reload()
          }}
        />
      )}
      {resetting && (
        <ResetPasswordDialog
          user={resetting}
          onClose={() => setResetting(undefined)}
          onReset={(password) => {
            setShownOnce({ email: resetting.email, password })
            setStatus(`Set a new password for ${resetting.email}.`)
            setResetting(undefined)
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog title="Delete user?" confirmLabel="Delete" busy={busy} error={error} onConfirm={() => void remove(deleting)} onClose={() => setDeleting(undefined)}>
          <p><strong>{deleting.email}</strong> will be deleted: their sessions and tokens stop at once, and a new account created later with the same email does not get their access back.</p>
        </ConfirmDialog>
      )}
    </div>
  )
}

function CreateUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (u: User, password: string | undefined) => void }) {
  const { api } = useSession()
  const [email, setEmail] = useState('')
  const [displayName, setDisplayName] = useState('')
  const [emailError, setEmailError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { email: useId(), emailError: useId(), name: useId(), help: useId() }

  const create = async () => {
    setFormError(undefined)
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) return setEmailError('Enter an email address, e.g. ann@example.com.')
    setEmailError(undefined)
    setBusy(true)
    try {
      // Without a password the server generates one and returns it once.
      const created = await api.post<User>(paths.users(), { email: email.trim(), ...(displayName.trim() && { displayName: displayName.trim() }) })
      onCreated(created, created.password)
    } catch (err) {
      const message = describeError(err, 'create users')
      if (err instanceof ApiError && (err.status === 'ALREADY_EXISTS' || err.status === 'INVALID_ARGUMENT')) setEmailError(message)
      else setFormError(message)
      setBusy(false)
    }
  }

  return (
    <Modal title="Create user" onClose={onClose} onSubmit={() => void create()} footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}>
      <div className="field">
        <label htmlFor={ids.email}>Email</label>
        <input id={ids.email} type="email" value={email} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setEmail(e.target.value)}
          aria-invalid={emailError ? true : undefined} aria-describedby={`${ids.help}${emailError ? ` ${ids.emailError}` : ''}`} />
        <p className="help" id={ids.help}>A password is generated and shown once after the account is created.</p>
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

function ResetPasswordDialog({ user, onClose, onReset }: { user: User; onClose: () => void; onReset: (password: string) => void }) {
  const { api } = useSession()
  const [password] = useState(generatePassword)
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const reset = async () => {
    setBusy(true)
    setError(undefined)
    try {
      await api.post(`${paths.user(user.email)}:setPassword`, { password })
      onReset(password)
    } catch (err) {
      setError(describeError(err, `reset the password of ${user.email}`))
      setBusy(false)
    }
  }

  return (
    <Modal title="Reset password" onClose={onClose} onSubmit={() => void reset()} footer={<SubmitActions label="Set new password" busyLabel="Setting…" busy={busy} onCancel={onClose} />}>
      <p>A new generated password replaces the current one of <strong>{user.email}</strong>. It is shown once, after it is set.</p>
      <ErrorText message={error} />
    </Modal>
  )
}
