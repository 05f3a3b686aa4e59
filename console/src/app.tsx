import { useEffect, useMemo } from 'react'
import { createApi } from './api/client.ts'
import { ServiceAccountsPage } from './accounts/service-accounts-page.tsx'
import { AuditLogPage } from './pages/audit-log-page.tsx'
import { WorkforcePoolsPage } from './iam/workforce-pools-page.tsx'
import { PageNotFound } from './pages/page-not-found.tsx'
import { ProjectPicker, rememberProject } from './pages/project-picker.tsx'
import { isSection, Shell } from './pages/shell.tsx'
import { UsersPage } from './accounts/users-page.tsx'
import { GroupsPage } from './accounts/groups-page.tsx'
import { RequestsPage } from './requests/requests-page.tsx'
import { ServicePage } from './services/service-page.tsx'
import { ServicesPage } from './services/services-page.tsx'
import { SignedIn } from './pages/signed-in.tsx'
import { ErrorText } from './ui/modal.tsx'
import { consolePath, useLocation } from './ui/router.tsx'
import { SessionContext, type SessionValue } from './ui/session.tsx'
import { SessionNotice } from './ui/session-notice.tsx'
import { useConsoleSession } from './ui/use-console-session.ts'

/**
 * Loads the session (or goes to /signin), then shows the page the path names. A session that ends
 * later leaves the page as it is (an open dialog keeps what was typed) and says so.
 */
export function App() {
  const { session, ended, failure, markEnded, renewed } = useConsoleSession()
  const api = useMemo(() => (session ? createApi(session, { ended: markEnded, renewed }) : undefined), [session, markEnded, renewed])
  const value = useMemo<SessionValue | undefined>(() => (session && api ? { email: session.email, api, ended } : undefined), [session, api, ended])

  if (failure) return <main className="centered"><ErrorText message={failure} /></main>
  if (!value) return <main className="centered"><p className="muted">Loading…</p></main>
  return (
    <SessionContext value={value}>
      <SessionNotice />
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
    document.title = `${first === 'signed-in' ? 'Signed in' : titleOf(page, item)} – Postern console`
  }, [first, page, item])

  if (first === 'signed-in') return <SignedIn />
  if (first === undefined || (first === 'projects' && !project)) return <ProjectPicker />
  if (first !== 'projects' || !project) return <main className="centered"><PageNotFound path={pathname} back={{ to: '/console', label: 'Choose one of your projects' }} /></main>
  // Only a service has pages under it; any other extra part, or an unknown page, names nothing.
  if ((page !== undefined && !isSection(page)) || (item !== undefined && page !== 'services') || parts.length > 4) {
    return <Shell project={project} section="services"><PageNotFound path={pathname} back={{ to: consolePath.services(project), label: `Go to the services of ${project}` }} /></Shell>
  }
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
