import { Link } from '../ui/router.tsx'

/** A project that is not there is said to be missing, never shown as an empty one inviting "Create one". */
export function ProjectNotFound({ project }: { project: string }) {
  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Project not found</h1>
      </header>
      <p>There is no project <strong>{project}</strong>: it may have been deleted, or its name mistyped.</p>
      <p><Link to="/console">Choose one of your projects</Link></p>
    </div>
  )
}
