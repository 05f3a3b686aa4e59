import { useEffect, useMemo, useState } from 'react'
import { createApi, fetchSession, goToSignIn } from './api/client.ts'
import type { Session } from './api/types.ts'
import { ServiceAccountsPage } from './accounts/service-accounts-page.tsx'
import { AuditLogPage } from './pages/audit-log-page.tsx'
import { WorkforcePoolsPage } from './iam/workforce-pools-page.tsx'
import { ProjectPicker, rememberProject } from './pages/project-picker.tsx'
import { isSection, Shell } from './pages/shell.tsx'
import { UsersPage } from './accounts/users-page.tsx'
import { GroupsPage } from './accounts/groups-page.tsx'
import { RequestsPage } from './requests/requests-page.tsx'
import { ServicePage } from './services/service-page.tsx'
import { ServicesPage } from './services/services-page.tsx'
import { ErrorText } from './ui/modal.tsx'
import { useLocation } from './ui/router.tsx'
import { SessionContext, type SessionValue } from './ui/session.tsx'

/** Loads the session (or goes to /signin), then shows the page the path names. */
export function App() {
  const [session, setSession] = useState<Session>()
  const [failure, setFailure] = useState<string>()
  useEffect(() => {
    fetchSession().then(
      (s) => (s ? setSession(s) : goToSignIn()),
      () => setFailure("Couldn't reach the Postern server. Check that it is running, then reload this page."),
    )
  }, [])
  const value = useMemo<SessionValue | undefined>(() => (session ? { email: session.email, api: createApi(session.csrfToken, goToSignIn) } : undefined), [session])

  if (failure) return <main className="centered"><ErrorText message={failure} /></main>
  if (!value) return <main className="centered"><p className="muted">Loading…</p></main>
  return (
    <SessionContext value={value}>
      <Routes />
    </SessionContext>
  )
}

function Routes() {
  const { pathname } = useLocation()
  const parts = pathname.split('/').slice(2).map(decodeURIComponent) // after "/console"
  const [first, project, page, item] = parts
  useEffect(() => {
    if (first === 'projects' && project) rememberProject(project)
  }, [first, project])
  useEffect(() => {
    document.title = `${titleOf(page, item)} – Postern console`
  }, [page, item])

  if (first !== 'projects' || !project) return <ProjectPicker />
  const content = page === 'services' && item ? <ServicePage project={project} service={item} />
    : page === 'service-accounts' ? <ServiceAccountsPage project={project} />
    : page === 'users' ? <UsersPage />
    : page === 'groups' ? <GroupsPage />
    : page === 'audit-log' ? <AuditLogPage project={project} />
    : page === 'workforce-pools' ? <WorkforcePoolsPage />
    : page === 'requests' ? <RequestsPage />
    : <ServicesPage project={project} />
  return <Shell project={project} section={isSection(page) ? page : 'services'}>{content}</Shell>
}

const TITLES: Record<string, string> = {
  'service-accounts': 'Service accounts',
  users: 'Users',
  groups: 'Groups',
  'audit-log': 'Audit log',
  'workforce-pools': 'Workforce pools',
  requests: 'Access requests',
}

function titleOf(page: string | undefined, item: string | undefined): string {
  if (page === 'services' && item) return item
  return (page && TITLES[page]) ?? 'Services'
}
