import { useId, useState } from 'react'
import { paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Service } from '../api/types.ts'
import { ErrorText } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'

/**
 * Turns browser access on or off (PATCH browserAccess with the etag read, so a concurrent change
 * is reported rather than overwritten). Shown only to those who may update the service.
 */
export function BrowserAccessToggle({ project, service, onChanged }: { project: string; service: Service; onChanged: (next: Service) => void }) {
  const { api } = useSession()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const id = useId()
  const change = async (on: boolean) => {
    setBusy(true)
    setError(undefined)
    try {
      onChanged(await api.patch<Service>(paths.service(project, service.name.split('/').at(-1)!), { browserAccess: on, etag: service.etag }))
    } catch (err) {
      setError(describeError(err, `change service ${service.name.split('/').at(-1)}`))
    }
    setBusy(false)
  }
  return (
    <div className="field field-check">
      <input id={id} type="checkbox" checked={service.browserAccess} disabled={busy} onChange={(e) => void change(e.target.checked)} />
      <label htmlFor={id}>Browser access</label>
      <p className="help">On: a browser without a token is sent to sign in with Postern, then IAM decides each request. Off: browsers get 401.</p>
      <ErrorText message={error} />
    </div>
  )
}
