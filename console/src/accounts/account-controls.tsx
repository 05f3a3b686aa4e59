import { useState } from 'react'
import { useSession } from '../ui/session.tsx'
import { ChangePasswordDialog } from './change-password-dialog.tsx'

/**
 * Who is signed in, with Change password and Sign out: on every signed-in page, the project
 * picker too (someone with no role on any project lands there, and must be able to leave).
 * `onPasswordChanged` gets the words to show.
 */
export function AccountControls({ onPasswordChanged }: { onPasswordChanged: (message: string) => void }) {
  const { email, api } = useSession()
  const [signingOut, setSigningOut] = useState(false)
  const [changingPassword, setChangingPassword] = useState(false)

  const signOut = async () => {
    setSigningOut(true)
    try {
      await api.post('/signout', {})
    } finally {
      window.location.assign('/signin')
    }
  }

  return (
    <div className="account">
      <span className="account-email" title={`Signed in as ${email}`}><EmailParts email={email} /></span>
      <button type="button" className="button button-quiet button-small" onClick={() => setChangingPassword(true)}>Change password</button>
      <button type="button" className="button button-quiet button-small" disabled={signingOut} onClick={() => void signOut()}>Sign out</button>
      {changingPassword && (
        <ChangePasswordDialog
          onClose={() => setChangingPassword(false)}
          onChanged={() => {
            setChangingPassword(false)
            onPasswordChanged('Your password was changed; your other sign-ins have ended.')
          }}
        />
      )}
    </div>
  )
}

/**
 * An email in two unbreakable parts, so a narrow header wraps it before the @ ("owner" over
 * "@example.com"), never mid-word; a part wider than the header is cut with an ellipsis.
 */
function EmailParts({ email }: { email: string }) {
  const at = email.lastIndexOf('@')
  if (at <= 0) return <span className="email-part">{email}</span>
  return (
    <>
      <span className="email-part">{email.slice(0, at)}</span>
      <span className="email-part">{email.slice(at)}</span>
    </>
  )
}
