import { randomBytes, randomUUID } from 'node:crypto'
import type {
  AuthCodeRecord, DeviceCodeRecord, GroupRecord, ProjectRecord, RefreshTokenRecord, ServiceAccountKeyRecord, ServiceAccountRecord,
  ServiceRecord, SessionRecord, SigningKeyRecord, UserRecord, WorkforcePoolRecord, WorkforceProviderRecord, FederatedSubjectRecord,
  ServiceSessionRecord, ServiceSignInCodeRecord,
} from '../../src/store/records.js'
import type { PolicyBody } from '../../src/iam/policy.js'
import type { Member } from '../../src/iam/members.js'

/**
 * Records with every field set to something that would show a lost or mangled column: non-empty
 * strings, true booleans, non-round numbers. Keys are unique, so tests sharing one store never collide.
 */
export const unique = (prefix: string): string => `${prefix}${randomBytes(4).toString('hex')}`

export const aProject = (o: Partial<ProjectRecord> = {}): ProjectRecord => ({
  projectId: unique('proj-'), uid: randomUUID(), createTime: 1_700_000_000_123, ...o,
})

export const aService = (o: Partial<ServiceRecord> = {}): ServiceRecord => ({
  projectId: 'my-project',
  serviceId: unique('svc-'),
  uid: randomUUID(),
  upstream: 'http://127.0.0.1:9999/base',
  description: 'says hello; "quoted" and ünïcode',
  invokerIamDisabled: true,
  customAudiences: ['https://a.example', 'aud-2'],
  strictAudience: true,
  browserAccess: false,
  useHttp2: true,
  timeoutSeconds: 42,
  labels: { team: 'core', 'env-x': 'prod' },
  createTime: 1_700_000_000_001,
  updateTime: 1_700_000_000_002,
  creator: 'user:ann@example.com',
  lastModifier: 'serviceAccount:ci@my-project.iam.postern.internal',
  etag: unique('Bw'),
  ...o,
})

export const aPolicy = (...members: Member[]): PolicyBody => ({
  version: 1,
  bindings: [{ role: 'roles/run.invoker', members }],
})

export const aUser = (o: Partial<UserRecord> = {}): UserRecord => ({
  email: `${unique('user-')}@example.com`,
  uid: randomUUID(),
  displayName: 'Ann Example',
  passwordHash: '$scrypt$N=16384$abc',
  disabled: true,
  createTime: 1_700_000_000_010,
  updateTime: 1_700_000_000_011,
  ...o,
})

export const aGroup = (o: Partial<GroupRecord> = {}): GroupRecord => ({
  email: `${unique('group-')}@example.com`,
  uid: randomUUID(),
  displayName: 'Engineers',
  description: 'everyone who ships',
  createTime: 1_700_000_000_020,
  ...o,
})

export const aServiceAccount = (o: Partial<ServiceAccountRecord> = {}): ServiceAccountRecord => ({
  projectId: 'my-project',
  email: `${unique('sa-')}@my-project.iam.postern.internal`,
  uid: randomUUID(),
  displayName: 'CI robot',
  description: 'builds and deploys',
  disabled: true,
  createTime: 1_700_000_000_030,
  ...o,
})

export const aServiceAccountKey = (serviceAccountEmail: string, o: Partial<ServiceAccountKeyRecord> = {}): ServiceAccountKeyRecord => ({
  keyId: unique('key'),
  serviceAccountEmail,
  publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n',
  createTime: 1_700_000_000_040,
  ...o,
})

export const aSigningKey = (o: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
  kid: unique('kid-'),
  alg: 'RS256',
  publicJwk: '{"kty":"RSA","n":"abc","e":"AQAB"}',
  privateKey: 'v1.encrypted.private.key',
  createTime: 1_700_000_000_050,
  activateTime: 1_700_000_000_051,
  expireTime: 1_700_000_000_052,
  ...o,
})

export const aRefreshToken = (o: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
  tokenHash: unique('rt-'),
  familyId: unique('fam-'),
  subjectUid: randomUUID(),
  clientId: 'postern-cli',
  scope: 'openid email offline_access',
  authTime: 1_700_000_000_060,
  createTime: 1_700_000_000_061,
  expireTime: 1_700_000_000_062,
  usedTime: null,
  revoked: false,
  ...o,
})

export const anAuthCode = (o: Partial<AuthCodeRecord> = {}): AuthCodeRecord => ({
  codeHash: unique('code-'),
  clientId: 'postern-cli',
  redirectUri: 'http://127.0.0.1:53682/callback',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  subjectUid: randomUUID(),
  scope: 'openid email',
  nonce: null,
  authTime: 1_700_000_000_070,
  expireTime: 1_700_000_000_071,
  usedTime: null,
  familyId: null,
  ...o,
})

export const aDeviceCode = (o: Partial<DeviceCodeRecord> = {}): DeviceCodeRecord => ({
  deviceCodeHash: unique('dc-'),
  userCode: unique('').toUpperCase(),
  clientId: 'postern-cli',
  scope: 'openid email offline_access',
  expireTime: 1_700_000_000_080,
  intervalSeconds: 5,
  lastPollTime: null,
  subjectUid: null,
  authTime: null,
  denied: false,
  consumed: false,
  requestTime: 1_700_000_000_020,
  requestAddress: '203.0.113.7',
  loginHint: 'ann@example.com',
  ...o,
})

export const aSession = (o: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionHash: unique('sess-'),
  subjectUid: randomUUID(),
  csrfToken: unique('csrf-'),
  createTime: 1_700_000_000_090,
  expireTime: 1_700_000_000_091,
  ...o,
})

export const aServiceSignInCode = (o: Partial<ServiceSignInCodeRecord> = {}): ServiceSignInCodeRecord => ({
  codeHash: unique('scode-'),
  serviceUid: randomUUID(),
  returnPath: '/app/ünï?x=1&y=%2F',
  state: unique('state-'),
  subjectUid: randomUUID(),
  signInSessionHash: unique('sess-'),
  expireTime: 1_700_000_000_095,
  usedTime: null,
  ...o,
})

/** A service session made from `parent` (which must be inserted for it to count). */
export const aServiceSession = (parent: SessionRecord, o: Partial<ServiceSessionRecord> = {}): ServiceSessionRecord => ({
  sessionHash: unique('ssess-'),
  signInSessionHash: parent.sessionHash,
  subjectUid: parent.subjectUid,
  serviceUid: randomUUID(),
  createTime: parent.createTime + 1,
  expireTime: parent.expireTime,
  ...o,
})

export const aWorkforcePool = (o: Partial<WorkforcePoolRecord> = {}): WorkforcePoolRecord => ({
  poolId: unique('pool-'),
  uid: randomUUID(),
  displayName: 'Contractors',
  description: 'people from "Acme" ünïcode',
  sessionDurationSeconds: 3_601,
  disabled: true,
  createTime: 1_700_000_000_030,
  updateTime: 1_700_000_000_031,
  ...o,
})

export const aWorkforceProvider = (poolId: string, o: Partial<WorkforceProviderRecord> = {}): WorkforceProviderRecord => ({
  poolId,
  providerId: unique('prov-'),
  uid: randomUUID(),
  displayName: 'Acme IdP',
  description: 'the company IdP',
  issuerUri: 'https://idp.example.com/tenant',
  clientId: 'client-123',
  jwksJson: '{"keys":[]}',
  attributeMapping: { 'postern.subject': 'assertion.sub', 'postern.groups': 'assertion.groups', 'attribute.dept': "assertion['dept']" },
  attributeCondition: "'eng' in assertion.groups",
  disabled: true,
  consoleSignIn: true,
  createTime: 1_700_000_000_040,
  updateTime: 1_700_000_000_041,
  ...o,
})

export const aFederatedSubject = (poolId: string, o: Partial<FederatedSubjectRecord> = {}): FederatedSubjectRecord => ({
  uid: randomUUID(),
  poolId,
  subject: unique('subj-'),
  providerId: 'prov-x',
  providerUid: 'prov-x-uid',
  displayName: 'Ann External',
  email: 'ann@acme.example',
  groups: ['eng', 'ops'],
  attributes: { dept: 'r&d', level: '7' },
  createTime: 1_700_000_000_050,
  lastSignInTime: 1_700_000_000_051,
  ...o,
})
