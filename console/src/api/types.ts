/**
 * Shapes of the control API's JSON (DESIGN §5), as the console reads them. Those the CLI and the
 * server share come from src/api, written once.
 */
export type { Binding, Condition, Policy, Service } from '../../../src/api/types.js'
export interface Session {
  email: string
  /** The signed-in principal's uid (older servers send none). */
  uid?: string
  csrfToken: string
}

/** Whether two sessions are the same person's: by uid when both carry one, else by email. */
export function samePerson(a: Session, b: Session): boolean {
  if (a.uid !== undefined && b.uid !== undefined) return a.uid === b.uid
  return a.email.toLowerCase() === b.email.toLowerCase()
}

export interface Project {
  name: string
  projectId: string
}

export interface Role {
  name: string
  title: string
  description: string
  includedPermissions: string[]
  /** Resource types whose policies may grant the role (a service's Add principal lists only those). */
  grantableOn?: string[]
}

export interface Group {
  email: string
  displayName: string
  description: string
  /** Present when one group is read (GET /v1/groups/{email}). */
  members?: string[]
}

export interface User {
  email: string
  displayName: string
  disabled: boolean
  hasPassword: boolean
  createTime: string
  /** Only in the answer to a create without a password: shown once. */
  password?: string
}

export interface ServiceAccount {
  name: string
  projectId: string
  email: string
  uniqueId: string
  displayName: string
  description: string
  disabled: boolean
  createTime: string
}

export interface ServiceAccountKey {
  name: string
  keyId: string
  keyAlgorithm: string
  keyType: string
  validAfterTime: string
}

export interface CreatedKey extends ServiceAccountKey {
  privateKeyData: string
}

export interface AuditEntry {
  id: string
  time: string
  principal: string
  method: string
  resource: string
  outcome: string
  details: Record<string, unknown>
  /** How many occurrences the entry stands for (refusals are counted per principal, resource and minute). */
  count?: number
}

export interface WorkforcePool {
  name: string
  displayName: string
  description: string
  sessionDuration: string
  disabled: boolean
}

export interface WorkforceProvider {
  name: string
  displayName: string
  oidc: { issuerUri: string; clientId: string }
  attributeMapping: Record<string, string>
  attributeCondition?: string
  disabled: boolean
  consoleSignIn: boolean
  audience: string
}
