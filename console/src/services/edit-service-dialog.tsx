import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Service } from '../api/types.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'
import { serviceIdOf } from './service-id.ts'

/**
 * Points a service at another upstream, or changes its description. The write carries the etag it
 * was read with, so a change someone else made meanwhile is never overwritten unseen. When one
 * was, the service is read again: the fields left as they were take what was saved meanwhile,
 * the ones changed here keep their edit, and the next Save carries the new etag — so Save again
 * applies this edit over theirs knowingly, rather than failing until the dialog is reopened.
 * A field both changed keeps this edit, and shows what they saved beside it with a way to take
 * theirs: without that, Save again would replace their value unseen.
 */
export function EditServiceDialog({ project, service, onClose, onSaved }: { project: string; service: Service; onClose: () => void; onSaved: (s: Service) => void }) {
  const { api } = useSession()
  const id = serviceIdOf(service)
  // The service as last read: the etag the next write carries, and what "unchanged here" means.
  const [base, setBase] = useState(service)
  const [upstream, setUpstream] = useState(service.upstream)
  const [description, setDescription] = useState(service.description)
  const [errors, setErrors] = useState<{ upstream?: string; form?: string }>({})
  // What someone else saved meanwhile in a field changed here too, until it is taken or saved over.
  const [theirs, setTheirs] = useState<{ upstream?: string; description?: string }>({})
  const [busy, setBusy] = useState(false)
  const ids = { upstream: useId(), upstreamHelp: useId(), upstreamError: useId(), upstreamTheirs: useId(), description: useId(), descriptionTheirs: useId() }

  const save = async () => {
    if (!/^https?:\/\/\S+$/i.test(upstream.trim())) return setErrors({ upstream: 'Enter the http:// or https:// address the gateway forwards to, e.g. http://127.0.0.1:9000.' })
    setErrors({})
    setBusy(true)
    try {
      onSaved(await api.patch<Service>(paths.service(project, id), { upstream: upstream.trim(), description, etag: base.etag }))
    } catch (err) {
      const now = err instanceof ApiError && err.status === 'ABORTED' ? await api.get<Service>(paths.service(project, id)).catch(() => undefined) : undefined
      if (now) {
        if (upstream.trim() === base.upstream) setUpstream(now.upstream)
        if (description === base.description) setDescription(now.description)
        const both = {
          ...(upstream.trim() !== base.upstream && now.upstream !== base.upstream && now.upstream !== upstream.trim() && { upstream: now.upstream }),
          ...(description !== base.description && now.description !== base.description && now.description !== description && { description: now.description }),
        }
        setTheirs(both)
        setBase(now)
        const clash = Object.keys(both).length ? ' Where you both changed a field, what they saved is shown beside it.' : ''
        setErrors({ form: `Someone else changed ${id} while you were editing it, so nothing was saved. Fields you had not changed now show what they saved; your changes are kept.${clash} Save again to apply yours.` })
        setBusy(false)
        return
      }
      const message = describeError(err, `change service ${id}`)
      setErrors(err instanceof ApiError && err.status === 'INVALID_ARGUMENT' && /upstream/i.test(err.message) ? { upstream: message } : { form: message })
      setBusy(false)
    }
  }

  return (
    <Modal title={`Edit ${id}`} onClose={onClose} onSubmit={() => void save()} footer={<SubmitActions label="Save" busyLabel="Saving…" busy={busy} onCancel={onClose} />}>
      <div className="field">
        <label htmlFor={ids.upstream}>Upstream URL</label>
        <input id={ids.upstream} value={upstream} autoFocus spellCheck={false} autoComplete="off" onChange={(e) => setUpstream(e.target.value)}
          aria-invalid={errors.upstream ? true : undefined}
          aria-describedby={`${ids.upstreamHelp}${errors.upstream ? ` ${ids.upstreamError}` : ''}${theirs.upstream !== undefined ? ` ${ids.upstreamTheirs}` : ''}`} />
        <p className="help" id={ids.upstreamHelp}>The gateway forwards every allowed request here from the moment you save.</p>
        <ErrorText id={ids.upstreamError} message={errors.upstream} />
        <ChangedMeanwhile id={ids.upstreamTheirs} field="upstream URL" value={theirs.upstream} onTake={(v) => { setUpstream(v); setTheirs({ ...theirs, upstream: undefined }) }} />
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <textarea id={ids.description} value={description} rows={2} maxLength={512} onChange={(e) => setDescription(e.target.value)}
          aria-describedby={theirs.description !== undefined ? ids.descriptionTheirs : undefined} />
        <ChangedMeanwhile id={ids.descriptionTheirs} field="description" value={theirs.description} onTake={(v) => { setDescription(v); setTheirs({ ...theirs, description: undefined }) }} />
      </div>
      <ErrorText message={errors.form} />
    </Modal>
  )
}

/** Beside a field both people changed: what the other saved, and a button that takes it. */
function ChangedMeanwhile({ id, field, value, onTake }: { id: string; field: string; value: string | undefined; onTake: (value: string) => void }) {
  if (value === undefined) return null
  return (
    <p className="changed-meanwhile" id={id}>
      Changed meanwhile to: {value === '' ? <em>(empty)</em> : <bdi className="changed-value">{value}</bdi>}{' '}
      <button type="button" className="button button-quiet button-small" aria-label={`Use theirs for the ${field}`} onClick={() => onTake(value)}>Use theirs</button>
    </p>
  )
}
