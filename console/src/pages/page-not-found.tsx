import { Link } from '../ui/router.tsx'

/** A console address that names no page: said so, rather than showing another page in its place. */
export function PageNotFound({ path, back }: { path: string; back: { to: string; label: string } }) {
  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Page not found</h1>
      </header>
      <p>The console has no page at <span className="mono">{path}</span>: the address may be mistyped or out of date.</p>
      <p><Link to={back.to}>{back.label}</Link></p>
    </div>
  )
}
