/** Rows as the store keeps them. Times are milliseconds since the epoch. */
import type { ServiceSettings } from '../api/types.js'
import type { PolicyBody } from '../iam/policy.js'

export interface ProjectRecord {
  projectId: string
  uid: string
  createTime: number
}

export interface ServiceRecord extends ServiceSettings {
  projectId: string
  serviceId: string
  uid: string
  createTime: number
  updateTime: number
  creator: string
  lastModifier: string
  etag: string
}

export interface PolicyRecord {
  resource: string
  policy: PolicyBody
  etag: string
}

export interface UserRecord {
  email: string
  uid: string
  displayName: string
  /** null for accounts that cannot sign in with a password. */
  passwordHash: string | null
  disabled: boolean
  createTime: number
  updateTime: number
}

export interface GroupRecord {
  email: string
  uid: string
  displayName: string
  description: string
  createTime: number
}

export interface GroupMembership {
  group: string
  member: string
}

export interface ServiceAccountRecord {
  projectId: string
  email: string
  uid: string
  displayName: string
  description: string
  disabled: boolean
  createTime: number
}

export interface ServiceAccountKeyRecord {
  keyId: string
  serviceAccountEmail: string
  publicKeyPem: string
  createTime: number
}

export interface SigningKeyRecord {
  kid: string
  alg: 'RS256'
  publicJwk: string
  /** The private key, encrypted with the master key (see identity/key-encryption.ts). */
  privateKey: string
  createTime: number
  /** Not used for signing before this time, so every verifier has seen it in the JWKS first. */
  activateTime: number
  /** Removed from the JWKS after this time (every token it signed has expired). */
  expireTime: number
}

export interface RefreshTokenRecord {
  tokenHash: string
  familyId: string
  subjectUid: string
  clientId: string
  scope: string
  authTime: number
  createTime: number
  expireTime: number
  usedTime: number | null
  revoked: boolean
}

export interface AuthCodeRecord {
  codeHash: string
  clientId: string
  redirectUri: string
  codeChallenge: string
  subjectUid: string
  scope: string
  nonce: string | null
  authTime: number
  expireTime: number
  usedTime: number | null
  /** The refresh-token family the code was redeemed for: revoked if the code is replayed. */
  familyId: string | null
}

export interface DeviceCodeRecord {
  deviceCodeHash: string
  userCode: string
  clientId: string
  scope: string
  expireTime: number
  intervalSeconds: number
  lastPollTime: number | null
  subjectUid: string | null
  authTime: number | null
  denied: boolean
  consumed: boolean
  /**
   * When and from which client address the device asked for the code, shown to whoever approves
   * it (RFC 8628 §5.4); null for codes stored before schema version 12.
   */
  requestTime: number | null
  requestAddress: string | null
  /**
   * The account the device asked to be signed in as (its login_hint, a normalised email): only
   * that account may approve the code. Null when none was asked for, and for codes stored before
   * schema version 13.
   */
  loginHint: string | null
}

export interface SessionRecord {
  sessionHash: string
  subjectUid: string
  csrfToken: string
  createTime: number
  expireTime: number
}

/**
 * A one-time code the control plane mints after a browser signs in, for one service: the gateway
 * on that service's host redeems it (once, within a minute) for a service session. It is bound to
 * the service, to the path to return to and to the state the gateway set in that browser before
 * sending it to sign in, so a code cannot be redeemed elsewhere or planted in another browser.
 */
export interface ServiceSignInCodeRecord {
  codeHash: string
  serviceUid: string
  returnPath: string
  /** The flow's public state, which only the browser holding the flow's secret can match. */
  state: string
  subjectUid: string
  /** The sign-in session the code was minted from: the service session lives and ends with it. */
  signInSessionHash: string
  expireTime: number
  usedTime: number | null
}

/** A browser's session on one service's host, made from a sign-in session and ending with it. */
export interface ServiceSessionRecord {
  sessionHash: string
  signInSessionHash: string
  subjectUid: string
  serviceUid: string
  createTime: number
  expireTime: number
}

export interface AuditEntry {
  id: number
  time: number
  principal: string
  method: string
  resource: string
  /** 'OK' or the canonical error status (e.g. PERMISSION_DENIED). */
  outcome: string
  details: Record<string, unknown>
  /** How many occurrences the entry stands for: 1, or more for an aggregated entry (its `time` is the first's). */
  count: number
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'count'>

/** A workforce pool: federated identities from external identity providers. */
export interface WorkforcePoolRecord {
  poolId: string
  uid: string
  displayName: string
  description: string
  sessionDurationSeconds: number
  disabled: boolean
  createTime: number
  updateTime: number
}

/** An OIDC provider of a workforce pool. */
export interface WorkforceProviderRecord {
  poolId: string
  providerId: string
  uid: string
  displayName: string
  description: string
  issuerUri: string
  clientId: string
  /** Inline JWKS (JSON text); null: fetched from the issuer's discovery document. */
  jwksJson: string | null
  /** Target (postern.subject, postern.groups, postern.display_name, attribute.NAME) → CEL over `assertion`. */
  attributeMapping: Record<string, string>
  /** CEL bool over `assertion`, `postern` and `attribute`; '' for none. */
  attributeCondition: string
  disabled: boolean
  consoleSignIn: boolean
  createTime: number
  updateTime: number
}

/**
 * A federated subject as one provider knows it: (provider, subject) → a stable uid, which is what
 * tokens, refresh tokens and sessions name; with what its last exchange mapped (refreshes re-mint
 * from it). The same subject signing in through two providers of a pool is one principal for IAM
 * (principal://…/subject/SUBJECT) but two identities here, so each provider's sign-ins end with
 * that provider — and a provider deleted and re-created under its id (a new uid) starts afresh.
 */
export interface FederatedSubjectRecord {
  uid: string
  poolId: string
  subject: string
  providerId: string
  /** The uid of the provider that signed the subject in; a provider with the same id but another uid is another provider. */
  providerUid: string
  displayName: string
  email: string | null
  groups: string[]
  attributes: Record<string, string>
  createTime: number
  lastSignInTime: number
}

export type ChangeKind = 'project' | 'service' | 'policy' | 'user' | 'group' | 'serviceAccount' | 'signingKey' | 'workforcePool' | 'accessRequest' | 'session'

/**
 * Keys of 'session' changes: every ended sign-in session is announced on the change feed, so a
 * gateway that admitted a browser by a session made from it, or an ID token naming it, stops
 * doing so within a second.
 */
export const SESSION_CHANGE = {
  /** One sign-in session (and every service session made from it) ended. */
  signIn: (sessionHash: string) => `sign-in:${sessionHash}`,
  /** Every session of one subject ended, or every refresh-token family of it. */
  subject: (subjectUid: string) => `subject:${subjectUid}`,
  /** One refresh-token family (a CLI sign-in, which tokens name as `sid`) ended. */
  refreshFamily: (familyId: string) => `family:${familyId}`,
} as const

/** What a 'session' change's key names: the inverse of SESSION_CHANGE (undefined for a key it does not make). */
export function endedSession(key: string): { signIn: string } | { subject: string } | { refreshFamily: string } | undefined {
  const colon = key.indexOf(':')
  const id = key.slice(colon + 1)
  switch (key.slice(0, colon + 1)) {
    case 'sign-in:':
      return { signIn: id }
    case 'subject:':
      return { subject: id }
    case 'family:':
      return { refreshFamily: id }
    default:
      return undefined
  }
}

export interface Change {
  seq: number
  kind: ChangeKind
  key: string
  /** When it was recorded, as read from the feed (absent on changes made up in memory). */
  time?: number
}

/**
 * Where a database's change feed stands, and which database it is: enough for a process to tell
 * that the feed it follows was rewritten under it (a backup restored, the database replaced).
 */
export interface FeedMark {
  /** The database's installation id (migration 11); '' if it has none. */
  installation: string
  /** The database answers but holds no Postern tables (dropped and created anew, not migrated yet). */
  noSchema?: true
  /** Why the database this process opened is no longer the one at its place (an embedded file removed or replaced). */
  replaced?: string
  /** The highest change seq, 0 when there is none. */
  latest: number
  /** The change at the seq asked about, if there is one. */
  at?: Change
}

/**
 * What the tables a process loads its view from (services, policies, principals, groups,
 * workforce pools, signing keys) hold, summarised cheaply: read again a little later, a different
 * digest means rows came or went or were rewritten in them since, whether or not the change feed
 * said so (a restore copies rows in without announcing them). For the few seconds after a reload
 * caused by the database being replaced (change-follower.ts), never per request.
 */
export interface ViewMark {
  /** Row counts and one changing column's maximum per table, read in one statement; '' when `incomplete` names a missing table. */
  digest: string
  /**
   * Postern tables missing, or present without their primary key. pg_dump adds every primary
   * key after all the data (its post-data section), so on PostgreSQL a table without one means
   * a restore is still copying data in, however long one table's COPY takes; a database Postern
   * migrated has every key. Empty when none.
   */
  incomplete: string[]
  /**
   * When every view table has its key: why the database is still not whole, if it is not
   * (restore-under-way.ts: a table of Postern's without its key, no recorded migration, no
   * installation id, a change feed without the organization's policy).
   */
  restoring?: string
}
