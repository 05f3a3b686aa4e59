import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Service } from '../api/types.ts'
import { grantRole } from '../iam/policy-edit.ts'
import { updatePolicy } from '../iam/update-policy.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'
// The API's own rule and words, so the console and the CLI say the same thing.
import { serviceIdProblem } from '../../../src/api/service-name.js'

type Field = 'id' | 'upstream' | 'description' | 'form'

/** Creates a private service; "Allow unauthenticated" grants Run Invoker to allUsers afterwards, as gcloud does. */
export function CreateServiceDialog({ project, onClose, onCreated }: { project: string; onClose: () => void; onCreated: (service: Service) => void }) {
  const { api } = useSession()
  const [id, setId] = useState('')
  const [upstream, setUpstream] = useState('')
  const [description, setDescription] = useState('')
  const [open, setOpen] = useState(false)
  const [browserAccess, setBrowserAccess] = useState(true)
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({})
  const [busy, setBusy] = useState(false)
  const clear = (field: Field) => setErrors((e) => ({ ...e, [field]: undefined }))
  const ids = { id: useId(), upstream: useId(), description: useId(), open: useId(), browser: useId(), idError: useId(), upstreamError: useId(), descriptionError: useId() }

  const create = async () => {
    const problems: Partial<Record<Field, string>> = {}
    const idProblem = serviceIdProblem(id)
    if (idProblem) problems.id = idProblem
    if (!/^https?:\/\/\S+$/i.test(upstream.trim())) problems.upstream = 'Enter the http:// or https:// address the gateway forwards to, e.g. http://127.0.0.1:9000.'
    setErrors(problems)
    if (Object.keys(problems).length) return
    setBusy(true)
    let created: Service
    try {
      created = await api.post<Service>(`${paths.services(project)}?serviceId=${encodeURIComponent(id)}`, { upstream: upstream.trim(), description, browserAccess })
    } catch (err) {
      const message = describeError(err, `create services in project ${project}`)
      const field: Field = err instanceof ApiError && err.status === 'INVALID_ARGUMENT'
        ? (/upstream/i.test(err.message) ? 'upstream' : /description/i.test(err.message) ? 'description' : /service/i.test(err.message) ? 'id' : 'form')
        : err instanceof ApiError && err.status === 'ALREADY_EXISTS' ? 'id' : 'form'
      setErrors({ [field]: message })
      setBusy(false)
      return
    }
    if (open) {
      try {
        await updatePolicy(api, paths.service(project, id), (p) => grantRole(p, 'roles/run.invoker', ['allUsers']))
      } catch (err) {
        setErrors({ form: `The service was created, but it could not be made public: ${describeError(err, `change who has access to ${id}`)}` })
        setBusy(false)
        return
      }
    }
    onCreated(created)
  }

  return (
    <Modal
      title="Create service"
      onClose={onClose}
      onSubmit={() => void create()}
      footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}
    >
      <div className="field">
        <label htmlFor={ids.id}>Service name</label>
        <input id={ids.id} value={id} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => { setId(e.target.value); clear('id') }}
          aria-invalid={errors.id ? true : undefined} aria-describedby={errors.id ? ids.idError : undefined} />
        <ErrorText id={ids.idError} message={errors.id} />
      </div>
      <div className="field">
        <label htmlFor={ids.upstream}>Upstream URL</label>
        <input id={ids.upstream} value={upstream} type="url" autoComplete="off" spellCheck={false} placeholder="http://127.0.0.1:9000" onChange={(e) => { setUpstream(e.target.value); clear('upstream') }}
          aria-invalid={errors.upstream ? true : undefined} aria-describedby={errors.upstream ? ids.upstreamError : undefined} />
        <ErrorText id={ids.upstreamError} message={errors.upstream} />
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <input id={ids.description} value={description} maxLength={512} onChange={(e) => { setDescription(e.target.value); clear('description') }}
          aria-invalid={errors.description ? true : undefined} aria-describedby={errors.description ? ids.descriptionError : undefined} />
        <ErrorText id={ids.descriptionError} message={errors.description} />
      </div>
      <div className="field field-check">
        <input id={ids.open} type="checkbox" checked={open} onChange={(e) => setOpen(e.target.checked)} />
        <label htmlFor={ids.open}>Allow unauthenticated invocations</label>
        <p className="help">
          {open
            ? 'Public: anyone who can reach the gateway may call this service without signing in (allUsers gets Run Invoker).'
            : 'Leave this off to keep the service private: callers then need an ID token and the Run Invoker role.'}
        </p>
      </div>
      <div className="field field-check">
        <input id={ids.browser} type="checkbox" checked={browserAccess} onChange={(e) => setBrowserAccess(e.target.checked)} />
        <label htmlFor={ids.browser}>Browser access</label>
        <p className="help">People who open the service in a browser sign in with Postern; IAM still decides every request. Off: browsers get 401, as any caller without a token.</p>
      </div>
      <ErrorText message={errors.form} />
    </Modal>
  )
}
