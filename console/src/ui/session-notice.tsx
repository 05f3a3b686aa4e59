import { useContext, useState } from 'react'
import { SessionContext } from './session.tsx'

/** The sign-in page, to come back to a page that only says so: the tab that sent it is where the work is. */
export const SIGN_IN_AGAIN = `/signin?return_to=${encodeURIComponent('/console/signed-in')}`

/**
 * Says that the session has ended and offers a sign-in in a new tab, so that this page and what
 * is typed in it (an open dialog's fields) stay as they are; then says the sign-in was noticed.
 * Dialogs show it too: a modal dialog makes the page behind it inert.
 */
export function SessionNotice() {
  const session = useContext(SessionContext)
  const [sawEnd, setSawEnd] = useState(false)
  if (session?.ended && !sawEnd) setSawEnd(true)
  // The live region is there before anything is said in it, so that screen readers announce it.
  return (
    <div className="session-notice" role="status">
      {session && sawEnd && (session.ended ? (
        <p>
          Your session has ended. Nothing you typed is lost: sign in again in a new tab, then come back here and try again.{' '}
          <a className="button button-small" href={SIGN_IN_AGAIN} target="_blank" rel="noopener">Sign in again</a>
        </p>
      ) : (
        <p>Signed in again as {session.email}. You can carry on here.</p>
      ))}
    </div>
  )
}
