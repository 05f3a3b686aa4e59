import { useEffect, useState } from 'react'
import { AccountControls } from '../accounts/account-controls.tsx'
import { paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Project } from '../api/types.ts'
import { ErrorText } from '../ui/modal.tsx'
import { OpenServiceForm } from './open-service-form.tsx'
import { consolePath, Link, navigate } from '../ui/router.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

const LAST_PROJECT = 'postern.console.project'

export function rememberProject(projectId: string): void {
  window.localStorage.setItem(LAST_PROJECT, projectId)
}

/**
 * /console: the projects this person can open (GET /v1/projects lists exactly those). The last
 * one used here, or the only one there is, opens at once; otherwise they choose from the list.
 */
export function ProjectPicker() {
  const { api } = useSession()
  const [accountStatus, setAccountStatus] = useState('')
  const last = window.localStorage.getItem(LAST_PROJECT) ?? ''
  const projects = useLoad(async () => (await api.get<{ projects?: Project[] }>(paths.projects())).projects ?? [], 'projects')

  useEffect(() => {
    const list = projects.data
    if (!list) return
    const pick = list.find((p) => p.projectId === last)?.projectId ?? (list.length === 1 ? list[0]!.projectId : undefined)
    if (pick) navigate(consolePath.services(pick), { replace: true })
  }, [projects.data, last])

  return (
    <main className="centered">
      <div className="card picker">
        <h1>Choose a project</h1>
        <AccountControls onPasswordChanged={setAccountStatus} />
        {accountStatus && <p className="status-text" role="status">{accountStatus}</p>}
        {projects.error !== undefined && <ErrorText message={describeError(projects.error, 'list your projects')} />}
        {projects.loading && <p className="muted">Loading your projects…</p>}
        {projects.data && projects.data.length > 0 && (
          <nav aria-label="Your projects">
            <ul className="plain-list project-list">
              {projects.data.map((p) => (
                <li key={p.projectId}>
                  <Link to={consolePath.services(p.projectId)} className="project-link">{p.projectId}</Link>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {projects.data && projects.data.length === 0 && (
          <>
            <p>
              You have no role on any project yet. Ask a project owner to grant you one — Run Viewer (<span className="mono">roles/run.viewer</span>) to see
              its services, Run Developer (<span className="mono">roles/run.developer</span>) to change them.
            </p>
            <OpenServiceForm />
          </>
        )}
      </div>
    </main>
  )
}
