import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { ServiceAccount } from '../api/types.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'

const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/
// The API's limits (src/control/routes/service-accounts.ts), as Google's: said and checked here
// rather than enforced by maxLength, which cuts pasted text without a word.
const NAME_MAX = 100
const DESCRIPTION_MAX = 256

/** Creates a service account: its ID, and the display name and description the API and the CLI take. */
export function CreateAccountDialog({ project, onClose, onCreated }: { project: string; onClose: () => void; onCreated: (a: ServiceAccount) => void }) {
  const { api } = useSession()
  const [accountId, setAccountId] = useState('')
  const [idError, setIdError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const about = useAboutFields({ displayName: '', description: '' })
  const ids = { id: useId(), idHelp: useId(), idError: useId() }

  const create = async () => {
    setFormError(undefined)
    const idProblem = ACCOUNT_ID.test(accountId) ? undefined : 'Use 6–30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.'
    setIdError(idProblem)
    if (!about.check() || idProblem) return
    setBusy(true)
    try {
      const { displayName, description } = about.values
      onCreated(await api.post<ServiceAccount>(paths.serviceAccounts(project), { accountId, ...(displayName && { displayName }), ...(description && { description }) }))
    } catch (err) {
      const message = describeError(err, `create service accounts in project ${project}`)
      if (err instanceof ApiError && (err.status === 'ALREADY_EXISTS' || /accountId/.test(err.message))) setIdError(message)
      else setFormError(message)
      setBusy(false)
    }
  }

  return (
    <Modal title="Create service account" onClose={onClose} onSubmit={() => void create()} footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}>
      <div className="field">
        <label htmlFor={ids.id}>Service account ID</label>
        <input id={ids.id} value={accountId} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setAccountId(e.target.value)}
          aria-invalid={idError ? true : undefined} aria-describedby={`${ids.idHelp}${idError ? ` ${ids.idError}` : ''}`} />
        <p className="help" id={ids.idHelp}>Its email will be <span className="mono">{accountId || 'ID'}@{project}.iam.postern.internal</span>.</p>
        <ErrorText id={ids.idError} message={idError} />
      </div>
      {about.fields}
      <ErrorText message={formError} />
    </Modal>
  )
}

/** Changes an account's display name and description: a PATCH naming only what changed, as `iam service-accounts update` sends. */
export function EditAccountDialog({ project, account, onClose, onSaved }: { project: string; account: ServiceAccount; onClose: () => void; onSaved: (a: ServiceAccount) => void }) {
  const { api } = useSession()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const about = useAboutFields({ displayName: account.displayName, description: account.description })

  const save = async () => {
    setFormError(undefined)
    if (!about.check()) return
    const changed = (['displayName', 'description'] as const).filter((f) => about.values[f] !== account[f])
    if (changed.length === 0) return onClose()
    setBusy(true)
    try {
      const body = Object.fromEntries(changed.map((f) => [f, about.values[f]]))
      onSaved(await api.patch<ServiceAccount>(`${paths.serviceAccount(project, account.email)}?updateMask=${changed.join(',')}`, body))
    } catch (err) {
      setFormError(describeError(err, `change ${account.email}`))
      setBusy(false)
    }
  }

  return (
    <Modal title={`Edit ${account.email}`} onClose={onClose} onSubmit={() => void save()} footer={<SubmitActions label="Save" busyLabel="Saving…" busy={busy} onCancel={onClose} />}>
      {about.fields}
      <ErrorText message={formError} />
    </Modal>
  )
}

interface About {
  displayName: string
  description: string
}

/** The display name and description fields, each with its limit said beside it and checked before sending. */
function useAboutFields(initial: About) {
  const [values, setValues] = useState(initial)
  const [errors, setErrors] = useState<Partial<Record<keyof About, string>>>({})
  const ids = { name: useId(), nameHelp: useId(), nameError: useId(), description: useId(), descriptionHelp: useId(), descriptionError: useId() }
  const length = (s: string) => s.length // UTF-16 units, as the API's check counts them
  const check = () => {
    const next: Partial<Record<keyof About, string>> = {}
    if (length(values.displayName) > NAME_MAX) next.displayName = `The display name is ${length(values.displayName)} characters long; it may be at most ${NAME_MAX}.`
    if (length(values.description) > DESCRIPTION_MAX) next.description = `The description is ${length(values.description)} characters long; it may be at most ${DESCRIPTION_MAX}.`
    setErrors(next)
    return Object.keys(next).length === 0
  }
  const set = (field: keyof About, value: string) => {
    setValues((v) => ({ ...v, [field]: value }))
    setErrors((e) => ({ ...e, [field]: undefined }))
  }
  const fields = (
    <>
      <div className="field">
        <label htmlFor={ids.name}>Display name</label>
        <input id={ids.name} value={values.displayName} autoComplete="off" onChange={(e) => set('displayName', e.target.value)}
          aria-invalid={errors.displayName ? true : undefined} aria-describedby={`${ids.nameHelp}${errors.displayName ? ` ${ids.nameError}` : ''}`} />
        <p className="help" id={ids.nameHelp}>Optional; up to {NAME_MAX} characters ({length(values.displayName)} now).</p>
        <ErrorText id={ids.nameError} message={errors.displayName} />
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <textarea id={ids.description} rows={2} value={values.description} onChange={(e) => set('description', e.target.value)}
          aria-invalid={errors.description ? true : undefined} aria-describedby={`${ids.descriptionHelp}${errors.description ? ` ${ids.descriptionError}` : ''}`} />
        <p className="help" id={ids.descriptionHelp}>Optional: what the account is for; up to {DESCRIPTION_MAX} characters ({length(values.description)} now).</p>
        <ErrorText id={ids.descriptionError} message={errors.description} />
      </div>
    </>
  )
  return { values, check, fields }
}
