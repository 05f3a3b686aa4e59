import { useId, useState } from 'react'
import { ErrorText } from '../ui/modal.tsx'
import { consolePath, navigate } from '../ui/router.tsx'

/**
 * For someone whose roles are on single services only. The API lists a project's services only to
 * those with run.services.list on the project (`postern services list` is refused for them too),
 * and nothing lists the services a person holds a role on, so the console cannot offer them; they
 * can still open a service they know by name, which its own policy lets them view.
 */
export function OpenServiceForm() {
  const [project, setProject] = useState('')
  const [service, setService] = useState('')
  const [problem, setProblem] = useState<string>()
  const ids = { project: useId(), service: useId(), help: useId() }
  return (
    <form
      className="open-service"
      aria-label="Open a service by name"
      onSubmit={(e) => {
        e.preventDefault()
        if (!project.trim() || !service.trim()) return setProblem('Enter both the project ID and the service name, as in the service’s URL or `postern services describe`.')
        navigate(consolePath.service(project.trim(), service.trim()))
      }}
    >
      <p id={ids.help}>
        If you were granted a role on a single service rather than on its project, it is not listed here: open it by name. Run Viewer on a service
        lets you see it and its permissions here; Run Invoker alone lets you call it, not view it.
      </p>
      <div className="field">
        <label htmlFor={ids.project}>Project ID</label>
        <input id={ids.project} value={project} autoComplete="off" spellCheck={false} onChange={(e) => { setProject(e.target.value); setProblem(undefined) }} />
      </div>
      <div className="field">
        <label htmlFor={ids.service}>Service name</label>
        <input id={ids.service} value={service} autoComplete="off" spellCheck={false} onChange={(e) => { setService(e.target.value); setProblem(undefined) }} />
      </div>
      <ErrorText message={problem} />
      <button type="submit" className="button button-primary" aria-describedby={ids.help}>Open service</button>
    </form>
  )
}
