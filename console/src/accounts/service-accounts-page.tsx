import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { ServiceAccount } from '../api/types.ts'
import { formatTime } from '../services/service-details.tsx'
import { ConfirmDialog, ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import { KeysDialog } from './keys-dialog.tsx'
import { ProjectNotFound } from '../pages/project-not-found.tsx'

const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/

export function ServiceAccountsPage({ project }: { project: string }) {
  const { api } = useSession()
  const list = useLoad(async () => (await api.get<{ accounts?: ServiceAccount[] }>(paths.serviceAccounts(project))).accounts ?? [], project)
  const allowed = usePermissions(paths.project(project), ['iam.serviceAccounts.create', 'iam.serviceAccounts.delete', 'iam.serviceAccountKeys.list'])
  const [creating, setCreating] = useState(false)
  const [keysOf, setKeysOf] = useState<ServiceAccount>()
  const [deleting, setDeleting] = useState<ServiceAccount>()
  const [deleteError, setDeleteError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState('')

  const remove = async (account: ServiceAccount) => {
    setBusy(true)
    setDeleteError(undefined)
    try {
      await api.delete(paths.serviceAccount(project, account.email))
      setDeleting(undefined)
      setStatus(`Deleted ${account.email}. Its keys no longer work, and bindings that named it now read deleted:serviceAccount:…`)
      list.reload()
    } catch (err) {
      setDeleteError(describeError(err, `delete ${account.email}`))
    } finally {
      setBusy(false)
    }
  }

  const accounts = list.data ?? []
  if (list.error instanceof ApiError && list.error.status === 'NOT_FOUND') return <ProjectNotFound project={project} />
  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Service accounts</h1>
        <div className="toolbar">
          {allowed.has('iam.serviceAccounts.create') && (
            <button type="button" className="button button-primary" onClick={() => setCreating(true)}>Create service account</button>
          )}
        </div>
      </header>
      <p className="intro">Identities for programs in project <strong>{project}</strong>. A key file lets a program get ID tokens as its account; grant the account Run Invoker on a service to let it call that service.</p>
      <p className="status-text" role="status">{status}</p>
      {list.error !== undefined && <ErrorText message={describeError(list.error, `list the service accounts of project ${project}`)} />}
      <table className="table table-stack">
        <caption className="visually-hidden">Service accounts in project {project}</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Display name</th>
            <th scope="col">Description</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {accounts.map((a) => (
            <tr key={a.email}>
              <th scope="row" className="mono">{a.email}</th>
              <td data-label="Display name">{a.displayName || '—'}</td>
              <td className="description" data-label="Description">{a.description}</td>
              <td data-label="Status">{a.disabled ? 'Disabled' : 'Enabled'}</td>
              <td data-label="Created">{formatTime(a.createTime)}</td>
              <td className="actions">
                {allowed.has('iam.serviceAccountKeys.list') && (
                  <button type="button" className="button button-small" aria-label={`Manage keys of ${a.email}`} onClick={() => setKeysOf(a)}>Keys</button>
                )}
                {allowed.has('iam.serviceAccounts.delete') && (
                  <button type="button" className="button button-small button-quiet" aria-label={`Delete ${a.email}`} onClick={() => { setDeleteError(undefined); setDeleting(a) }}>Delete</button>
                )}
              </td>
            </tr>
          ))}
          {list.data && accounts.length === 0 && (
            <tr><td colSpan={6} className="empty">No service accounts in this project.</td></tr>
          )}
          {list.loading && !list.data && (
            <tr><td colSpan={6} className="empty">Loading service accounts…</td></tr>
          )}
        </tbody>
      </table>
      {creating && (
        <CreateAccountDialog
          project={project}
          onClose={() => setCreating(false)}
          onCreated={(a) => {
            setCreating(false)
            setStatus(`Created ${a.email}.`)
            list.reload()
          }}
        />
      )}
      {keysOf && <KeysDialog project={project} account={keysOf} onClose={() => setKeysOf(undefined)} />}
      {deleting && (
        <ConfirmDialog title="Delete service account?" confirmLabel="Delete" busy={busy} error={deleteError} onConfirm={() => void remove(deleting)} onClose={() => setDeleting(undefined)}>
          <p><strong>{deleting.email}</strong> and all its keys will be deleted. Programs using it stop getting tokens at once. A new account created later with the same name does not get its access back.</p>
        </ConfirmDialog>
      )}
    </div>
  )
}

function CreateAccountDialog({ project, onClose, onCreated }: { project: string; onClose: () => void; onCreated: (a: ServiceAccount) => void }) {
  const { api } = useSession()
  const [accountId, setAccountId] = useState('')
  const [displayName, setDisplayName] = useState('')
  const [idError, setIdError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { id: useId(), idHelp: useId(), idError: useId(), name: useId() }

  const create = async () => {
    setFormError(undefined)
    if (!ACCOUNT_ID.test(accountId)) {
      setIdError('Use 6–30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.')
      return
    }
    setIdError(undefined)
    setBusy(true)
    try {
      onCreated(await api.post<ServiceAccount>(paths.serviceAccounts(project), { accountId, ...(displayName && { displayName }) }))
    } catch (err) {
      const message = describeError(err, `create service accounts in project ${project}`)
      if (err instanceof ApiError && (err.status === 'ALREADY_EXISTS' || /accountId/.test(err.message))) setIdError(message)
      else setFormError(message)
      setBusy(false)
    }
  }

  return (
    <Modal
      title="Create service account"
      onClose={onClose}
      onSubmit={() => void create()}
      footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}
    >
      <div className="field">
        <label htmlFor={ids.id}>Service account ID</label>
        <input id={ids.id} value={accountId} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setAccountId(e.target.value)}
          aria-invalid={idError ? true : undefined} aria-describedby={`${ids.idHelp}${idError ? ` ${ids.idError}` : ''}`} />
        <p className="help" id={ids.idHelp}>Its email will be <span className="mono">{accountId || 'ID'}@{project}.iam.postern.internal</span>.</p>
        <ErrorText id={ids.idError} message={idError} />
      </div>
      <div className="field">
        <label htmlFor={ids.name}>Display name</label>
        <input id={ids.name} value={displayName} maxLength={100} onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      <ErrorText message={formError} />
    </Modal>
  )
}
