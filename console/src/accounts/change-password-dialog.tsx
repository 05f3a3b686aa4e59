import { useId, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'

/**
 * Changing your own password: the current one first, as a sign-in asks for it (the server checks
 * it under the same limits), then the new one twice. This console session stays signed in; every
 * other sign-in of the account ends.
 */
export function ChangePasswordDialog({ onClose, onChanged }: { onClose: () => void; onChanged: () => void }) {
  const { api, email } = useSession()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [again, setAgain] = useState('')
  const [currentError, setCurrentError] = useState<string>()
  const [nextError, setNextError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { current: useId(), currentError: useId(), next: useId(), nextError: useId(), again: useId() }

  const change = async () => {
    setCurrentError(undefined)
    setNextError(undefined)
    setFormError(undefined)
    if (current === '') return setCurrentError('Enter your current password.')
    if (next !== again) return setNextError('The two new passwords differ.')
    setBusy(true)
    try {
      await api.post(`${paths.user(email)}:setPassword`, { password: next, currentPassword: current })
      onChanged()
    } catch (err) {
      const message = describeError(err, 'change your password')
      // A wrong current password is the server's PERMISSION_DENIED, said as it is (not "ask an owner for a role").
      const wrongCurrent = err instanceof ApiError && err.status === 'PERMISSION_DENIED' && /current password/i.test(err.message)
      if (wrongCurrent) setCurrentError(err.message)
      else if (err instanceof ApiError && err.status === 'INVALID_ARGUMENT') setNextError(message)
      else setFormError(message)
      setBusy(false)
    }
  }

  return (
    <Modal title="Change password" onClose={onClose} onSubmit={() => void change()} footer={<SubmitActions label="Change password" busyLabel="Changing…" busy={busy} onCancel={onClose} />}>
      <p>For <strong>{email}</strong>. You stay signed in here; your other sign-ins (other browsers, the CLI) end.</p>
      <div className="field">
        <label htmlFor={ids.current}>Current password</label>
        <input id={ids.current} type="password" value={current} autoFocus autoComplete="current-password" onChange={(e) => setCurrent(e.target.value)}
          aria-invalid={currentError ? true : undefined} aria-describedby={currentError ? ids.currentError : undefined} />
        <ErrorText id={ids.currentError} message={currentError} />
      </div>
      <div className="field">
        <label htmlFor={ids.next}>New password</label>
        <input id={ids.next} type="password" value={next} autoComplete="new-password" onChange={(e) => setNext(e.target.value)}
          aria-invalid={nextError ? true : undefined} aria-describedby={nextError ? ids.nextError : undefined} />
        <ErrorText id={ids.nextError} message={nextError} />
      </div>
      <div className="field">
        <label htmlFor={ids.again}>New password, again</label>
        <input id={ids.again} type="password" value={again} autoComplete="new-password" onChange={(e) => setAgain(e.target.value)} />
      </div>
      <ErrorText message={formError} />
    </Modal>
  )
}
