import { useSession } from '../ui/session.tsx'

/** Where "Sign in again" lands, in its own tab: the console tabs of this browser have been told. */
export function SignedIn() {
  const { email } = useSession()
  return (
    <main className="centered">
      <div>
        <h1>Signed in as {email}</h1>
        <p>Go back to the tab you were working in: it has your new session, and everything you typed there. You can close this tab.</p>
        <p><a href="/console">Open the console here</a></p>
      </div>
    </main>
  )
}
