import { useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { ServiceAccount } from '../api/types.ts'
import { formatTime } from '../services/service-details.tsx'
import { ConfirmDialog, ErrorText } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import { KeysDialog } from './keys-dialog.tsx'
import { CreateAccountDialog, EditAccountDialog } from './service-account-dialogs.tsx'
import { ProjectNotFound } from '../pages/project-not-found.tsx'

export function ServiceAccountsPage({ project }: { project: string }) {
  const { api } = useSession()
  const list = useLoad(async () => (await api.get<{ accounts?: ServiceAccount[] }>(paths.serviceAccounts(project))).accounts ?? [], project)
  const allowed = usePermissions(paths.project(project), ['iam.serviceAccounts.create', 'iam.serviceAccounts.update', 'iam.serviceAccounts.delete', 'iam.serviceAccountKeys.list'])
  const [creating, setCreating] = useState(false)
  const [keysOf, setKeysOf] = useState<ServiceAccount>()
  const [editing, setEditing] = useState<ServiceAccount>()
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
              <td data-label="Display name"><bdi>{a.displayName || '—'}</bdi></td>
              <td className="description" data-label="Description"><bdi>{a.description}</bdi></td>
              <td data-label="Status">{a.disabled ? 'Disabled' : 'Enabled'}</td>
              <td data-label="Created">{formatTime(a.createTime)}</td>
              <td className="actions">
                {allowed.has('iam.serviceAccounts.update') && (
                  <button type="button" className="button button-small" aria-label={`Edit ${a.email}`} onClick={() => setEditing(a)}>Edit</button>
                )}
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
      {editing && (
        <EditAccountDialog
          project={project}
          account={editing}
          onClose={() => setEditing(undefined)}
          onSaved={(a) => {
            setEditing(undefined)
            setStatus(`Saved ${a.email}.`)
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
