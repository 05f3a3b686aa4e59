import { useEffect, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Service } from '../api/types.ts'
import { ConfirmDialog, ErrorText } from '../ui/modal.tsx'
import { usePermissionState } from '../ui/permissions.ts'
import { RoleHint } from '../ui/role-hint.tsx'
import { ProjectNotFound } from '../pages/project-not-found.tsx'
import { consolePath, Link } from '../ui/router.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import { CreateServiceDialog } from './create-service-dialog.tsx'
import { InfoPanel } from './info-panel.tsx'
import { authenticationOf, serviceIdOf } from './service-id.ts'

const PANEL_KEY = 'postern.console.infoPanel'

export function ServicesPage({ project }: { project: string }) {
  const { api } = useSession()
  const list = useLoad(async () => (await api.get<{ services?: Service[] }>(paths.services(project))).services ?? [], project)
  const services = list.data ?? []
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set())
  const [panelOpen, setPanelOpen] = useState(() => window.localStorage.getItem(PANEL_KEY) === 'open')
  const [creating, setCreating] = useState(false)
  const [deleting, setDeleting] = useState(false)
  const [deleteError, setDeleteError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState('')
  const permissions = usePermissionState(paths.project(project), ['run.services.create', 'run.services.delete'])
  const allowed = permissions.allowed

  // Selection survives reloads of the list but not the removal of a service.
  useEffect(() => {
    setSelected((s) => new Set([...s].filter((id) => services.some((x) => serviceIdOf(x) === id))))
  }, [list.data]) // `services` is derived from list.data

  const togglePanel = () => {
    window.localStorage.setItem(PANEL_KEY, panelOpen ? 'closed' : 'open')
    setPanelOpen(!panelOpen)
  }
  const toggle = (id: string, on: boolean) => setSelected((s) => {
    const next = new Set(s)
    if (on) next.add(id)
    else next.delete(id)
    return next
  })
  const chosen = services.filter((s) => selected.has(serviceIdOf(s)))
  const allChosen = services.length > 0 && chosen.length === services.length

  const deleteSelected = async () => {
    setBusy(true)
    setDeleteError(undefined)
    const failures: string[] = []
    for (const s of chosen) {
      try {
        await api.delete(paths.service(project, serviceIdOf(s)))
      } catch (err) {
        failures.push(describeError(err, `delete service ${serviceIdOf(s)}`))
      }
    }
    setBusy(false)
    list.reload()
    if (failures.length) setDeleteError(failures.join(' '))
    else {
      setStatus(`Deleted ${chosen.map(serviceIdOf).join(', ')}.`)
      setDeleting(false)
    }
  }

  if (list.error instanceof ApiError && list.error.status === 'NOT_FOUND') return <ProjectNotFound project={project} />
  return (
    <div className={panelOpen ? 'with-panel' : ''}>
      <div className="page-main">
        <header className="page-header">
          <h1>Services</h1>
          <div className="toolbar" role="toolbar" aria-label="Service actions">
            {allowed.has('run.services.create') && (
              <button type="button" className="button button-primary" onClick={() => setCreating(true)}>Create service</button>
            )}
            {allowed.has('run.services.delete') && (
              <button type="button" className="button" disabled={chosen.length === 0} onClick={() => { setDeleteError(undefined); setDeleting(true) }}>
                Delete
              </button>
            )}
            <button type="button" className="button button-quiet" aria-expanded={panelOpen} aria-controls="info-panel" onClick={togglePanel}>
              {panelOpen ? 'Hide info panel' : 'Show info panel'}
            </button>
          </div>
        </header>
        <p className="intro">
          Services in project <strong>{project}</strong>. Every service is private unless its policy says otherwise: callers need an ID token and the Run Invoker role.
        </p>
        {permissions.known && !allowed.has('run.services.create') && <RoleHint permission="run.services.create" action="create, change and delete services" on={`project ${project}`} />}
        <p className="status-text" role="status">{status}</p>
        {list.error !== undefined && <ErrorText message={describeError(list.error, `list the services of project ${project}`)} />}
        <table className="table table-stack">
          <caption className="visually-hidden">Services in project {project}</caption>
          <thead>
            <tr>
              <th scope="col" className="col-check">
                <input type="checkbox" aria-label="Select all services" checked={allChosen} disabled={services.length === 0}
                  onChange={(e) => setSelected(e.target.checked ? new Set(services.map(serviceIdOf)) : new Set())} />
              </th>
              <th scope="col">Name</th>
              <th scope="col">URL</th>
              <th scope="col">Authentication</th>
              <th scope="col">Upstream</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => {
              const id = serviceIdOf(s)
              const on = selected.has(id)
              return (
                <tr key={s.name} className={on ? 'selected' : undefined}>
                  <td className="col-check">
                    <input type="checkbox" aria-label={`Select service ${id}`} checked={on} onChange={(e) => toggle(id, e.target.checked)} />
                  </td>
                  <th scope="row"><Link to={consolePath.service(project, id)}>{id}</Link></th>
                  <td className="mono" data-label="URL">{s.uri}</td>
                  <td data-label="Authentication">{authenticationOf(s)}</td>
                  <td className="mono" data-label="Upstream">{s.upstream}</td>
                  <td className="description" data-label="Description"><bdi>{s.description}</bdi></td>
                </tr>
              )
            })}
            {list.data && services.length === 0 && (
              <tr>
                <td colSpan={6} className="empty">No services yet.{allowed.has('run.services.create') ? ' Create one to put an upstream behind the gateway.' : ''}</td>
              </tr>
            )}
            {list.loading && !list.data && (
              <tr>
                <td colSpan={6} className="empty">Loading services…</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {panelOpen && (
        <div id="info-panel" className="panel-slot">
          <InfoPanel project={project} selected={chosen} onPolicyChanged={list.reload} />
        </div>
      )}
      {creating && (
        <CreateServiceDialog
          project={project}
          onClose={() => setCreating(false)}
          onCreated={(s) => {
            setCreating(false)
            setStatus(`Created service ${serviceIdOf(s)}.`)
            list.reload()
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={chosen.length === 1 ? 'Delete service?' : `Delete ${chosen.length} services?`}
          confirmLabel="Delete"
          busy={busy}
          error={deleteError}
          onConfirm={() => void deleteSelected()}
          onClose={() => setDeleting(false)}
        >
          <p>These services and their IAM policies will be deleted. The gateway stops routing to them at once.</p>
          <ul className="plain-list">
            {chosen.map((s) => <li key={s.name}><strong>{serviceIdOf(s)}</strong> <span className="mono muted">{s.uri}</span></li>)}
          </ul>
        </ConfirmDialog>
      )}
    </div>
  )
}
