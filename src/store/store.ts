import type {
  AuditEntry, AuthCodeRecord, Change, ChangeKind, DeviceCodeRecord, GroupMembership, GroupRecord, NewAuditEntry,
  PolicyRecord, ProjectRecord, RefreshTokenRecord, ServiceAccountKeyRecord, ServiceAccountRecord, ServiceRecord,
  SessionRecord, SigningKeyRecord, UserRecord, WorkforcePoolRecord, WorkforceProviderRecord, FederatedSubjectRecord,
  ServiceSessionRecord, ServiceSignInCodeRecord, FeedMark, ViewMark,
} from './records.js'
import type { PolicyBody } from '../iam/policy.js'
import type { AccessQueries } from './queries/access-requests.js'

/**
 * The one store interface (DESIGN §8). Two implementations share one body of SQL: embedded SQLite
 * (the default) and PostgreSQL. Every method outside `transaction` commits on its own; inside,
 * all commit together or not at all. A write is durable when its promise resolves.
 *
 * Writers record what they changed with `recordChange`; every process follows the change feed to
 * keep its caches fresh (directory/).
 */
export interface StoreTx extends AccessQueries {
  getProject(projectId: string): Promise<ProjectRecord | undefined>
  listProjects(): Promise<ProjectRecord[]>
  insertProject(p: ProjectRecord): Promise<boolean>
  deleteProject(projectId: string): Promise<boolean>

  getService(projectId: string, serviceId: string): Promise<ServiceRecord | undefined>
  listServices(projectId?: string): Promise<ServiceRecord[]>
  insertService(s: ServiceRecord): Promise<boolean>
  /** Compare-and-set on etag. */
  updateService(s: ServiceRecord, expectedEtag: string): Promise<boolean>
  deleteService(projectId: string, serviceId: string): Promise<boolean>

  getPolicy(resource: string): Promise<PolicyRecord | undefined>
  listPolicies(): Promise<PolicyRecord[]>
  /** Compare-and-set: writes only if the stored etag is `expectedEtag` (EMPTY_ETAG: no policy yet). */
  putPolicy(resource: string, policy: PolicyBody, newEtag: string, expectedEtag: string): Promise<PolicyRecord | undefined>
  deletePolicy(resource: string): Promise<void>
  /** Policies that may mention `member` (a superset; callers check exactly). */
  findPoliciesMentioning(member: string): Promise<PolicyRecord[]>

  getUser(email: string): Promise<UserRecord | undefined>
  getUserByUid(uid: string): Promise<UserRecord | undefined>
  listUsers(): Promise<UserRecord[]>
  insertUser(u: UserRecord): Promise<boolean>
  updateUser(u: UserRecord): Promise<boolean>
  deleteUser(email: string): Promise<boolean>

  getGroup(email: string): Promise<GroupRecord | undefined>
  listGroups(): Promise<GroupRecord[]>
  insertGroup(g: GroupRecord): Promise<boolean>
  deleteGroup(email: string): Promise<boolean>
  listMemberships(group?: string): Promise<GroupMembership[]>
  addMembership(m: GroupMembership): Promise<boolean>
  removeMembership(m: GroupMembership): Promise<boolean>
  /** Removes `member` from every group; returns the groups it was in. */
  removeMemberEverywhere(member: string): Promise<string[]>

  getServiceAccount(email: string): Promise<ServiceAccountRecord | undefined>
  getServiceAccountByUid(uid: string): Promise<ServiceAccountRecord | undefined>
  listServiceAccounts(projectId?: string): Promise<ServiceAccountRecord[]>
  insertServiceAccount(sa: ServiceAccountRecord): Promise<boolean>
  updateServiceAccount(sa: ServiceAccountRecord): Promise<boolean>
  deleteServiceAccount(email: string): Promise<boolean>
  getServiceAccountKey(keyId: string): Promise<ServiceAccountKeyRecord | undefined>
  listServiceAccountKeys(email: string): Promise<ServiceAccountKeyRecord[]>
  insertServiceAccountKey(k: ServiceAccountKeyRecord): Promise<boolean>
  deleteServiceAccountKey(keyId: string): Promise<boolean>

  getWorkforcePool(poolId: string): Promise<WorkforcePoolRecord | undefined>
  listWorkforcePools(): Promise<WorkforcePoolRecord[]>
  insertWorkforcePool(p: WorkforcePoolRecord): Promise<boolean>
  /** Updates the mutable fields of the pool with this id and uid. */
  updateWorkforcePool(p: WorkforcePoolRecord): Promise<boolean>
  /** Deletes the pool with its providers and federated subjects. */
  deleteWorkforcePool(poolId: string): Promise<boolean>
  getWorkforceProvider(poolId: string, providerId: string): Promise<WorkforceProviderRecord | undefined>
  listWorkforceProviders(poolId?: string): Promise<WorkforceProviderRecord[]>
  insertWorkforceProvider(p: WorkforceProviderRecord): Promise<boolean>
  updateWorkforceProvider(p: WorkforceProviderRecord): Promise<boolean>
  /** Deletes the provider with the federated subjects it signed in. */
  deleteWorkforceProvider(poolId: string, providerId: string): Promise<boolean>
  getFederatedSubject(uid: string): Promise<FederatedSubjectRecord | undefined>
  /** The subject as its most recent sign-in through any provider of the pool left it. */
  findFederatedSubject(poolId: string, subject: string): Promise<FederatedSubjectRecord | undefined>
  /**
   * Inserts the subject, or — when (provider uid, subject) exists — updates what its sign-in
   * mapped and keeps its uid and createTime; returns the stored record.
   */
  upsertFederatedSubject(s: FederatedSubjectRecord): Promise<FederatedSubjectRecord>
  /** A pool's subjects (or only those one provider, by uid, signed in), by subject. */
  listFederatedSubjects(poolId: string, providerUid?: string): Promise<FederatedSubjectRecord[]>

  listSigningKeys(): Promise<SigningKeyRecord[]>
  /** Inserts only if no key was created after `unlessCreatedAfter` (one rotation among many processes). */
  insertSigningKey(k: SigningKeyRecord, unlessCreatedAfter: number): Promise<boolean>
  deleteSigningKeysExpiredBefore(time: number): Promise<number>

  insertRefreshToken(t: RefreshTokenRecord): Promise<void>
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>
  /** Marks a token used if it was not; false when it already was (a replay). */
  markRefreshTokenUsed(tokenHash: string, time: number): Promise<boolean>
  /** Ends a sign-in (refresh-token family) and, if it was live, records a 'session' change naming it. */
  revokeRefreshFamily(familyId: string): Promise<number>
  /** Whether a sign-in (refresh-token family) is still live: some token of it is not revoked. Its access tokens name it (`sid`). */
  refreshFamilyLive(familyId: string): Promise<boolean>
  /** As refreshFamilyLive, with whose sign-in it is; undefined for a family the store does not hold. */
  refreshFamilyState(familyId: string): Promise<{ live: boolean; subjectUid: string } | undefined>
  /** Ends every sign-in of a subject and, if any was live, records a 'session' change naming the subject. */
  revokeRefreshTokensOf(subjectUid: string): Promise<number>

  insertAuthCode(c: AuthCodeRecord): Promise<void>
  getAuthCode(codeHash: string): Promise<AuthCodeRecord | undefined>
  /** Marks a code used, recording the family it was redeemed for; false if it was already used. */
  consumeAuthCode(codeHash: string, time: number, familyId: string): Promise<boolean>

  insertDeviceCode(d: DeviceCodeRecord): Promise<boolean>
  getDeviceCode(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined>
  getDeviceCodeByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined>
  updateDeviceCode(d: DeviceCodeRecord): Promise<void>

  insertSession(s: SessionRecord): Promise<void>
  getSession(sessionHash: string): Promise<SessionRecord | undefined>
  /** Ends a sign-in session and every service session made from it, and records a 'session' change. */
  deleteSession(sessionHash: string): Promise<void>
  /** Ends every sign-in and service session of a subject, and records a 'session' change. */
  deleteSessionsOf(subjectUid: string): Promise<void>

  insertServiceSignInCode(c: ServiceSignInCodeRecord): Promise<void>
  /** Marks a code used and returns it, if it was unused and had not expired at `time`; otherwise undefined (once only, under any concurrency). */
  redeemServiceSignInCode(codeHash: string, time: number): Promise<ServiceSignInCodeRecord | undefined>
  /** Inserts a service session if its sign-in session (of the same subject) is live at `now`; false otherwise. */
  insertServiceSession(s: ServiceSessionRecord, now: number): Promise<boolean>
  /** A service session whose sign-in session still exists (expiry is the caller's to check). */
  getServiceSession(sessionHash: string): Promise<ServiceSessionRecord | undefined>

  /** Remembers a one-time value (a JWT `jti`) until `expireTime`; false if it was already seen. */
  rememberOnce(key: string, expireTime: number): Promise<boolean>
  /** Counts an event in a fixed window and returns the count in the window so far. */
  countEvent(key: string, windowStart: number): Promise<number>
  /** Deletes what has expired (codes, sessions, one-time values, counters). */
  purgeExpired(now: number): Promise<void>

  appendAudit(e: NewAuditEntry): Promise<void>
  /**
   * Adds `count` occurrences to the one entry named `aggregateKey`, creating it from `e` if it
   * does not exist yet (concurrent writers, in any process, add to the same entry).
   */
  countAudit(e: NewAuditEntry, aggregateKey: string, count: number): Promise<void>
  /** Deletes audit entries whose time is before `before` (the retention). */
  purgeAudit(before: number): Promise<number>
  listAudit(filter: { resource?: string; principal?: string; outcome?: string; beforeId?: number; limit: number }): Promise<AuditEntry[]>

  recordChange(kind: ChangeKind, key: string): Promise<void>
}

export interface Store extends StoreTx {
  readonly kind: 'sqlite' | 'postgres'
  /** Runs `fn` in one serializable transaction; on PostgreSQL it is retried on serialization failures. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>
  changesSince(seq: number, limit: number): Promise<Change[]>
  /** The installation id, the highest change seq and the change at `seq` (at the highest when omitted), read at once. */
  feedMark(seq?: number): Promise<FeedMark>
  /** The tables the in-memory view is loaded from, summarised (see ViewMark); read only while a process settles after the database was replaced. */
  viewMark(): Promise<ViewMark>
  /**
   * A whole installation of an older schema, restored under a running process: its version and
   * what its schema state reads now (to tell whether it stays so), or undefined when the
   * database is no such thing (restore-under-way.ts olderInstallation).
   */
  olderInstallation(): Promise<{ version: number; state: string } | undefined>
  /** Applies the migrations the database is missing (migrations.ts migrate; safe beside other processes). */
  migrate(): Promise<void>
  /** Calls `onChange` soon after any process commits a change (PostgreSQL LISTEN); a no-op on SQLite. */
  listen(onChange: () => void): Promise<void>
  /** Succeeds when the database answers. */
  ping(): Promise<void>
  close(): Promise<void>
}
