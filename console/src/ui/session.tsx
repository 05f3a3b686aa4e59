import { createContext, useContext } from 'react'
import type { Api } from '../api/client.ts'

export interface SessionValue {
  email: string
  api: Api
  /** A call met 401; the page stays, and SessionNotice offers a sign-in in another tab. */
  ended: boolean
}

export const SessionContext = createContext<SessionValue | undefined>(undefined)

export function useSession(): SessionValue {
  const value = useContext(SessionContext)
  if (!value) throw new Error('useSession outside <SessionContext>')
  return value
}
