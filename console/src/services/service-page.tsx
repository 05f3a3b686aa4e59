import { useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Service } from '../api/types.ts'
import { PermissionsTab } from '../iam/permissions-tab.tsx'
import { ConfirmDialog, ErrorText } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { consolePath, Link, navigate } from '../ui/router.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import { BrowserAccessToggle } from './browser-access-toggle.tsx'
import { EditServiceDialog } from './edit-service-dialog.tsx'
import { ServiceDetails } from './service-details.tsx'

/** One service, opened: its settings and its permissions on one page. */
export function ServicePage({ project, service }: { project: string; service: string }) {
  const { api } = useSession()
  const loaded = useLoad(() => api.get<Service>(paths.service(project, service)), `${project}/${service}`)
  const allowed = usePermissions(paths.service(project, service), ['run.services.update', 'run.services.delete'])
  const [editing, setEditing] = useState(false)
  const [status, setStatus] = useState('')
  const [deleting, setDeleting] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()

  const remove = async () => {
    setBusy(true)
    setError(undefined)
    try {
      await api.delete(paths.service(project, service))
      navigate(consolePath.services(project))
    } catch (err) {
      setError(describeError(err, `delete service ${service}`))
      setBusy(false)
    }
  }

  return (
    <div className="page-main">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={consolePath.services(project)}>Services</Link> <span aria-hidden="true">›</span> <span aria-current="page">{service}</span>
      </nav>
      <header className="page-header">
        <h1>{service}</h1>
        <div className="toolbar">
          {allowed.has('run.services.update') && loaded.data && (
            <button type="button" className="button" onClick={() => setEditing(true)}>Edit</button>
          )}
          {allowed.has('run.services.delete') && loaded.data && (
            <button type="button" className="button" onClick={() => setDeleting(true)}>Delete service</button>
          )}
        </div>
      </header>
      <p className="status-text" role="status">{status}</p>
      {loaded.error !== undefined && <ErrorText message={describeError(loaded.error, `view service ${service}`)} />}
      {loaded.error instanceof ApiError && loaded.error.status === 'NOT_FOUND' && (
        <p><Link to={consolePath.services(project)}>Back to the services of {project}</Link></p>
      )}
      {loaded.data && (
        <div className="two-columns">
          <section aria-labelledby="details-heading" className="card">
            <h2 id="details-heading">Details</h2>
            <ServiceDetails service={loaded.data} />
            {allowed.has('run.services.update') && <BrowserAccessToggle project={project} service={loaded.data} onChanged={() => loaded.reload()} />}
          </section>
          <section aria-labelledby="permissions-heading" className="card">
            <h2 id="permissions-heading">Permissions</h2>
            <PermissionsTab project={project} service={service} />
          </section>
        </div>
      )}
      {editing && loaded.data && (
        <EditServiceDialog
          project={project}
          service={loaded.data}
          onClose={() => setEditing(false)}
          onSaved={(s) => {
            setEditing(false)
            setStatus(`Saved. ${service} now forwards to ${s.upstream}.`)
            loaded.reload()
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog title="Delete service?" confirmLabel="Delete" busy={busy} error={error} onConfirm={() => void remove()} onClose={() => setDeleting(false)}>
          <p><strong>{service}</strong> and its IAM policy will be deleted. The gateway stops routing to it at once.</p>
        </ConfirmDialog>
      )}
    </div>
  )
}
