import { useState, type ReactNode } from 'react'
import { paths } from '../api/client.ts'
import type { Project } from '../api/types.ts'
import { useSession } from '../ui/session.tsx'
import { consolePath, Link, navigate } from '../ui/router.tsx'
import { useLoad } from '../ui/use-load.ts'
import { PendingRequestCount, requestsPath } from '../requests/requests-link.tsx'
import { AccountControls } from '../accounts/account-controls.tsx'

export type Section = 'services' | 'service-accounts' | 'users' | 'groups' | 'workforce-pools' | 'audit-log' | 'requests'

const SECTIONS: [Section, string, (project: string) => string][] = [
  ['services', 'Services', consolePath.services],
  ['service-accounts', 'Service accounts', consolePath.serviceAccounts],
  ['users', 'Users', consolePath.users],
  ['groups', 'Groups', consolePath.groups],
  ['workforce-pools', 'Workforce pools', consolePath.workforcePools],
  ['audit-log', 'Audit log', consolePath.auditLog],
  ['requests', 'Requests', requestsPath],
]

export const isSection = (page: string | undefined): page is Section => SECTIONS.some(([key]) => key === page)

/** The frame around every page: product name, project, sections, who is signed in. */
export function Shell({ project, section, children }: { project: string; section: Section; children: ReactNode }) {
  const { api } = useSession()
  const projects = useLoad(async () => (await api.get<{ projects?: Project[] }>(paths.projects())).projects ?? [], 'projects')
  const [accountStatus, setAccountStatus] = useState('')
  const ids = (projects.data ?? []).map((p) => p.projectId)
  const choices = ids.includes(project) ? ids : [project, ...ids]
  const pathOf = (key: Section, p: string) => SECTIONS.find(([k]) => k === key)![2](p)

  return (
    <div className="app">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to={consolePath.services(project)} className="brand">Postern</Link>
        <label className="project-select">
          <span className="visually-hidden">Project</span>
          <select value={project} onChange={(e) => navigate(pathOf(section, e.target.value))}>
            {choices.map((id) => <option key={id} value={id}>{id}</option>)}
          </select>
        </label>
        <nav aria-label="Sections" className="sections">
          {SECTIONS.map(([key, title, to]) => (
            <Link key={key} to={to(project)} className="section-link" aria-current={key === section ? 'page' : undefined}>{title}{key === 'requests' && <PendingRequestCount />}</Link>
          ))}
        </nav>
        <AccountControls onPasswordChanged={setAccountStatus} />
      </header>
      <main id="main" className="content" tabIndex={-1}>
        {accountStatus && <p className="status-text" role="status">{accountStatus}</p>}
        {children}
      </main>
    </div>
  )
}
