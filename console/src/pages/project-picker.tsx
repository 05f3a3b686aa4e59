import { useEffect, useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Project } from '../api/types.ts'
import { ErrorText } from '../ui/modal.tsx'
import { consolePath, Link, navigate } from '../ui/router.tsx'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

const LAST_PROJECT = 'postern.console.project'
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/

export function rememberProject(projectId: string): void {
  window.localStorage.setItem(LAST_PROJECT, projectId)
}

/**
 * /console: opens the last project used here, else the only one there is; someone who may not
 * list projects (a service-level viewer) types the project's ID instead.
 */
export function ProjectPicker() {
  const { api, email } = useSession()
  const last = window.localStorage.getItem(LAST_PROJECT) ?? ''
  const projects = useLoad(async () => {
    try {
      return (await api.get<{ projects?: Project[] }>(paths.projects())).projects ?? []
    } catch (err) {
      if (err instanceof ApiError && err.status === 'PERMISSION_DENIED') return undefined
      throw err
    }
  }, 'projects')
  const [typed, setTyped] = useState(last)
  const [problem, setProblem] = useState<string>()
  const inputId = useId()
  const errorId = useId()

  useEffect(() => {
    if (projects.loading) return
    const list = projects.data
    // Someone who may not list projects goes back to the one they used last.
    const pick = list ? (list.find((p) => p.projectId === last)?.projectId ?? (list.length === 1 ? list[0]!.projectId : undefined)) : last || undefined
    if (pick) navigate(consolePath.services(pick), { replace: true })
  }, [projects.loading, projects.data, last])

  return (
    <main className="centered">
      <div className="card picker">
        <h1>Choose a project</h1>
        <p className="muted">Signed in as {email}.</p>
        {projects.error !== undefined && <ErrorText message={describeError(projects.error, 'list projects')} />}
        {projects.data && projects.data.length > 1 && (
          <ul className="plain-list">
            {projects.data.map((p) => (
              <li key={p.projectId}>
                <Link to={consolePath.services(p.projectId)}>{p.projectId}</Link>
              </li>
            ))}
          </ul>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault()
            if (!PROJECT_ID.test(typed)) return setProblem('A project ID has 6–30 lowercase letters, digits and hyphens, starting with a letter.')
            navigate(consolePath.services(typed))
          }}
        >
          <div className="field">
            <label htmlFor={inputId}>Project ID</label>
            <input id={inputId} value={typed} spellCheck={false} autoComplete="off" onChange={(e) => setTyped(e.target.value)}
              aria-invalid={problem ? true : undefined} aria-describedby={problem ? errorId : undefined} />
            <ErrorText id={errorId} message={problem} />
          </div>
          <button type="submit" className="button button-primary">Open project</button>
        </form>
      </div>
    </main>
  )
}
