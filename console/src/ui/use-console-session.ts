import { useCallback, useEffect, useState } from 'react'
import { fetchSession, goToSignIn } from '../api/client.ts'
import { samePerson, type Session } from '../api/types.ts'
import { reloadDiscardingInput } from './unsaved-input.ts'

/**
 * Console tabs of one browser tell each other that someone signed in (nothing else is sent: each
 * tab reads GET /v1/session itself). A tab whose session ended takes the new one when it is the
 * same person's; another person's sign-in reloads the tab, so nothing typed under the old session
 * is ever sent, or shown, as theirs.
 */
const CHANNEL = 'postern-console-session'

export interface ConsoleSession {
  session: Session | undefined
  /** A call met 401: the session has ended, and the page stays as it is until a sign-in elsewhere. */
  ended: boolean
  failure: string | undefined
  markEnded: () => void
  /** A call found the session replaced by a new sign-in of the same person: its new CSRF token is used from now on. */
  renewed: (session: Session) => void
}

/** Loads the session (or goes to /signin, on first load only: later a 401 never leaves the page). */
export function useConsoleSession(): ConsoleSession {
  const [session, setSession] = useState<Session>()
  const [ended, setEnded] = useState(false)
  const [failure, setFailure] = useState<string>()
  useEffect(() => {
    fetchSession().then(
      (s) => {
        if (!s) return goToSignIn()
        setSession(s)
        announceSignIn()
      },
      () => setFailure("Couldn't reach the Postern server. Check that it is running, then reload this page."),
    )
  }, [])

  useEffect(() => {
    if (!session) return
    const recheck = () => {
      fetchSession().then((s) => {
        if (!s) return // still signed out
        if (!samePerson(s, session)) return reloadDiscardingInput()
        setEnded(false)
        // A new sign-in in this browser replaced the session cookie, and with it the CSRF token.
        if (s.csrfToken !== session.csrfToken) setSession(s)
      }, () => {})
    }
    const channel = new BroadcastChannel(CHANNEL)
    channel.onmessage = recheck
    // A sign-in that ended on another page than the console's (a service's, /device) says nothing:
    // an ended tab also looks again when it is returned to.
    if (ended) window.addEventListener('focus', recheck)
    return () => {
      channel.close()
      window.removeEventListener('focus', recheck)
    }
  }, [session, ended])

  const markEnded = useCallback(() => setEnded(true), [])
  const renewed = useCallback((s: Session) => {
    setEnded(false)
    setSession(s)
  }, [])
  return { session, ended, failure, markEnded, renewed }
}

function announceSignIn(): void {
  const channel = new BroadcastChannel(CHANNEL)
  channel.postMessage('signed-in')
  channel.close()
}
