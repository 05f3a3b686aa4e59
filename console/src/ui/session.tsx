import { createContext, useContext } from 'react'
import type { Api } from '../api/client.ts'

export interface SessionValue {
  email: string
  api: Api
}

export const SessionContext = createContext<SessionValue | undefined>(undefined)

export function useSession(): SessionValue {
  const value = useContext(SessionContext)
  if (!value) throw new Error('useSession outside <SessionContext>')
  return value
}
