import { generateKeyPairSync, verify as cryptoVerify } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { importDist } from './dist.js'
import { mintToken } from './tokens.js'

type Decide = typeof import('../src/iam/decide.js')
type PrincipalModule = typeof import('../src/iam/principal.js')
type CompiledPolicyModule = typeof import('../src/iam/compiled-policy.js')
type GroupsModule = typeof import('../src/iam/groups.js')
type VerifyModule = typeof import('../src/identity/verify.js')
type OpenStoreModule = typeof import('../src/store/open-store.js')
type DirectoryModule = typeof import('../src/directory/directory.js')
type AuthorizeModule = typeof import('../src/gateway/authorize.js')
type RoutesModule = typeof import('../src/gateway/routes.js')
type AuthenticateModule = typeof import('../src/gateway/authenticate.js')
type KeyringModule = typeof import('../src/identity/keyring.js')
type MasterKeyModule = typeof import('../src/identity/master-key.js')
type Member = import('../src/iam/members.js').Member

/** One timed operation; `fn` runs `n` times per call and returns something so V8 keeps the work. */
interface Case {
  id: string
  label: string
  /** The case measured in the same run that this one is read against. */
  baseline?: string
  fn: (n: number) => unknown
}

export interface InProcessReport {
  cases: InProcessResult[]
  /** Heap held per token in the gateway's verified-token cache (the key digest, claims, map entry). */
  bytesPerCachedToken: number
  tokenCacheCapacity: number
}

export interface InProcessResult {
  id: string
  label: string
  /** Median over batches, nanoseconds per operation; min is the least disturbed batch. */
  medianNs: number
  minNs: number
  baseline?: string
  ratioToBaseline?: number
}

const DOMAIN = 'bench.example.com'
const GROUPS = 1_000
const DEPTH = 5
const POLICY_MEMBERS = 1_500

/**
 * decide() and verifyJwt() alone, and the gateway's authorizer on the large case: a
 * service whose policy has 1,500 members, a caller 5 groups deep among 1,000 groups. The store,
 * directory and route table are the real ones over a throw-away SQLite file. Batches of every
 * case are interleaved so that drift on the shared machine hits all alike.
 */
export async function runInProcess(o: { batches?: number; batchMs?: number; log?: (s: string) => void } = {}): Promise<InProcessReport> {
  const log = o.log ?? (() => undefined)
  const { decide } = await importDist<Decide>('iam/decide.js')
  const { principalMembers } = await importDist<PrincipalModule>('iam/principal.js')
  const { compilePolicy } = await importDist<CompiledPolicyModule>('iam/compiled-policy.js')
  const { GroupIndex } = await importDist<GroupsModule>('iam/groups.js')
  const { verifyJwt } = await importDist<VerifyModule>('identity/verify.js')
  const { openStore } = await importDist<OpenStoreModule>('store/open-store.js')
  const { Directory } = await importDist<DirectoryModule>('directory/directory.js')
  const { InvokeAuthorizer } = await importDist<AuthorizeModule>('gateway/authorize.js')
  const { RouteTable } = await importDist<RoutesModule>('gateway/routes.js')
  const { mintJwt } = await importDist<typeof import('../src/identity/mint.js')>('identity/mint.js')
  const { GatewayAuthenticator } = await importDist<AuthenticateModule>('gateway/authenticate.js')
  const { SignIns } = await importDist<typeof import('../src/gateway/sign-ins.js')>('gateway/sign-ins.js')
  const { Keyring } = await importDist<KeyringModule>('identity/keyring.js')
  const { deriveMasterKey } = await importDist<MasterKeyModule>('identity/master-key.js')

  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-inproc-'))
  const store = await openStore({ dataDir: dir, clock: Date.now, onError: () => undefined })
  try {
    log('  building the store: 1,000 groups, a 1,500-member policy …')
    const now = Date.now()
    const user = (i: number) => `member${String(i).padStart(5, '0')}@${DOMAIN}`
    const group = (i: number) => `g${String(i).padStart(4, '0')}@${DOMAIN}`
    const caller = { kind: 'user' as const, uid: 'caller-uid', email: `caller@${DOMAIN}` }
    const outsider = { kind: 'user' as const, uid: 'outsider-uid', email: `outsider@elsewhere.example.org` }
    const members: Member[] = [`group:${group(DEPTH - 1)}`]
    for (let i = 0; members.length < POLICY_MEMBERS; i++) members.push(`user:${user(i)}`)
    const tokenUsers = Array.from({ length: 1_000 }, (_, i) => ({ uid: `token-user-${i}`, email: `token-user-${i}@${DOMAIN}` }))
    await store.transaction(async (tx) => {
      for (const u of tokenUsers) await tx.insertUser({ email: u.email, uid: u.uid, displayName: u.email, passwordHash: null, disabled: false, createTime: now, updateTime: now })
      await tx.insertProject({ projectId: 'p', uid: 'p-uid', createTime: now })
      for (const [serviceId, upstream] of [['big', 'http://127.0.0.1:9'], ['small', 'http://127.0.0.1:9']] as const) {
        await tx.insertService({
          projectId: 'p', serviceId, uid: `${serviceId}-uid`, upstream, description: '', invokerIamDisabled: false, customAudiences: [], strictAudience: false, browserAccess: true, useHttp2: false,
          timeoutSeconds: 300, labels: {}, createTime: now, updateTime: now, creator: 'user:owner@example.com', lastModifier: 'user:owner@example.com', etag: 'e',
        })
      }
      await tx.putPolicy('organizations/local', { version: 1, bindings: [{ role: 'roles/owner', members: ['user:owner@example.com'] }] }, 'e1', 'ACAB')
      await tx.putPolicy('projects/p/services/big', { version: 1, bindings: [{ role: 'roles/run.invoker', members }] }, 'e2', 'ACAB')
      await tx.putPolicy('projects/p/services/small', { version: 1, bindings: [{ role: 'roles/run.invoker', members: [`user:${caller.email}`] }] }, 'e3', 'ACAB')
      for (let g = 0; g < GROUPS; g++) {
        await tx.insertGroup({ email: group(g), uid: `g${g}`, displayName: group(g), description: '', createTime: now })
        // The caller's chain: caller ∈ g0000 ∈ g0001 ∈ … ∈ g0004, granted through g0004.
        if (g === 0) await tx.addMembership({ group: group(0), member: `user:${caller.email}` })
        else if (g < DEPTH) await tx.addMembership({ group: group(g), member: `group:${group(g - 1)}` })
        // Every other group: ten users and up to two groups below it (never the chain's, so the
        // caller stays exactly five deep).
        else {
          for (let k = 0; k < 10; k++) await tx.addMembership({ group: group(g), member: `user:${user((g * 7919 + k * 104_729) % 5_000)}` })
          for (const j of [DEPTH + ((g * 31) % Math.max(1, g - DEPTH)), DEPTH + ((g * 17) % Math.max(1, g - DEPTH))]) {
            if (j < g) await tx.addMembership({ group: group(g), member: `group:${group(j)}` })
          }
        }
      }
    })
    const directory = new Directory(store)
    await directory.loadAll()
    const routes = new RouteTable(directory, new URL('http://localhost:7080'))
    const routeOf = (name: string) => {
      const found = routes.lookup(`${name}.p.localhost:7080`)
      if (!('route' in found)) throw new Error(`no route ${name}`)
      return found.route
    }
    const big = routeOf('big')
    const small = routeOf('small')
    const authorizer = new InvokeAuthorizer(directory)
    const callerMembers = principalMembers(caller, directory.groups)
    if (callerMembers.size !== 4 + DEPTH) throw new Error(`caller should be in exactly ${DEPTH} groups, is in ${callerMembers.size - 4}`)
    const bigChain = directory.policyChainOf(big.lineage)
    const smallChain = directory.policyChainOf(small.lineage)
    const request = (policies: typeof bigChain, m: ReadonlySet<Member>) => ({ policies, members: m, permission: 'run.routes.invoke', resource: { name: big.resource, type: 'run.postern/Service' as const }, now })
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`in-process set-up: ${what}`)
    }
    check(decide(request(bigChain, callerMembers)).allow, 'the caller is granted on big')
    check(authorizer.authorize(caller, caller.uid, big, now).allow, 'the authorizer grants on big')
    check(!authorizer.authorize(outsider, outsider.uid, big, now).allow, 'the outsider is denied on big')
    const outsiderMembers = principalMembers(outsider, directory.groups)

    // Tokens: a fresh key, the gateway's own verifier.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const issuer = 'http://127.0.0.1:7070'
    const token = mintToken({ kid: 'k1', key: privateKey }, issuer, { uid: caller.uid, email: caller.email }, Math.floor(now / 1000))
    const [h, p, s] = token.split('.') as [string, string, string]
    const signed = Buffer.from(`${h}.${p}`)
    const signature = Buffer.from(s, 'base64url')
    const verifyOptions = { issuer, keyFor: (kid: string) => (kid === 'k1' ? publicKey : undefined), nowMs: now, leewaySeconds: 60 }
    check(verifyJwt(token, verifyOptions).claims.sub === caller.uid, 'the token verifies')

    const bigMemberSets = new Map<string, Set<Member>>()
    // mintJwt is async (jose); the batch awaits all, so the figure is CPU per signature.
    const mintMany = async (n: number) => {
      for (let i = 0; i < n; i++) await mintJwt({ sub: caller.uid, aud: 'http://big.p.localhost:7080', email: caller.email }, { kid: 'k1', key: privateKey }, issuer, now, 300, 'postern-assertion+jwt')
    }
    const cases: Case[] = [
      { id: 'map-get', label: 'floor: Map.get of a 60-char string key', fn: (n) => loop(n, (i) => bigMemberSets.get(i & 1 ? 'a'.repeat(60) : 'b'.repeat(60))) },
      { id: 'decide-small', label: 'decide(): 1-member policy, members precomputed', fn: (n) => loop(n, () => decide(request(smallChain, callerMembers)).allow) },
      { id: 'decide-big', label: 'decide(): 1,500 members, 5 deep, members precomputed', baseline: 'decide-small', fn: (n) => loop(n, () => decide(request(bigChain, callerMembers)).allow) },
      { id: 'decide-big-deny', label: 'decide(): 1,500 members, caller not granted (every role checked)', baseline: 'decide-small', fn: (n) => loop(n, () => decide(request(bigChain, outsiderMembers)).allow) },
      { id: 'members-5-deep', label: 'principalMembers(): the caller 5 groups deep among 1,000', fn: (n) => loop(n, () => principalMembers(caller, directory.groups).size) },
      { id: 'authorize-cached', label: 'gateway authorize(): 1,500 members, 5 deep, cached', baseline: 'map-get', fn: (n) => loop(n, () => authorizer.authorize(caller, caller.uid, big, now).allow) },
      {
        id: 'authorize-cold',
        label: 'gateway authorize(): 1,500 members, 5 deep, cold (principalMembers + decide)',
        baseline: 'decide-small',
        fn: (n) => loop(n, () => decide(request(directory.policyChainOf(big.lineage), principalMembers(caller, directory.groups))).allow),
      },
      {
        id: 'authorize-after-change',
        label: 'gateway authorize(): cold after a directory change (epoch bumped each call)',
        baseline: 'decide-small',
        fn: (n) => loop(n, () => {
          directory.epoch++
          return authorizer.authorize(caller, caller.uid, big, now).allow
        }),
      },
      { id: 'crypto-verify', label: 'floor: crypto.verify RS256-2048 alone', fn: (n) => loop(n, () => cryptoVerify('RSA-SHA256', signed, publicKey, signature)) },
      { id: 'verify-jwt', label: 'verifyJwt(): an RS256 ID token', baseline: 'crypto-verify', fn: (n) => loop(n, () => verifyJwt(token, verifyOptions).claims.exp) },
      {
        id: 'mint-assertion',
        label: 'mintJwt(): an X-Postern-Jwt-Assertion, RS256 (once per caller and service every 4 min)',
        fn: (n) => mintMany(n),
      },
      { id: 'compile-policy-1500', label: 'compilePolicy(): the 1,500-member policy (per policy change)', fn: (n) => loop(n, () => compilePolicy(big.resource, 'run.postern/Service', { version: 1, bindings: [{ role: 'roles/run.invoker', members }] }, 1).version) },
      { id: 'group-index-1000', label: 'new GroupIndex(): 1,000 groups (per group change)', fn: (n) => loop(n, () => new GroupIndex(directory.groups.members).members.size) },
    ]
    const results = await measure(cases, o.batches ?? 7, o.batchMs ?? 150, log)

    // Memory: the gateway's own authenticator, a real keyring, 5,000 tokens of 1,000 users.
    const keyring = new Keyring(store, deriveMasterKey('postern bench master key'), { rotationMs: 30 * 86_400_000, maxTokenLifetimeMs: 86_400_000 }, Date.now)
    await keyring.rotateIfDue()
    const authenticator = new GatewayAuthenticator(keyring, directory, new SignIns(store), issuer)
    const signer = keyring.signer()
    const count = 5_000
    const issued = (n: number, secondsEarlier: number) =>
      Array.from({ length: n }, (_, i) => mintToken(signer, issuer, tokenUsers[i % tokenUsers.length]!, Math.floor(now / 1000) - secondsEarlier - Math.floor(i / tokenUsers.length)))
    const tokens = issued(count, 0)
    // Issued a minute earlier: none of them is one of the measured tokens.
    const warmUp = issued(100, 60)
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const authenticate = async (t: string) => {
      // A fresh copy, as a token read from a request is.
      const ok = await authenticator.authenticate(Buffer.from(t, 'latin1').toString('latin1'), big, Date.now())
      if (!ok.ok) throw new Error(`in-process set-up: a token was refused: ${ok.description}`)
    }
    // The first checks set up what every later one shares (the public key's object, compiled code).
    for (const t of warmUp) await authenticate(t)
    gc()
    const before = process.memoryUsage().heapUsed
    for (const t of tokens) await authenticate(t)
    gc()
    const after = process.memoryUsage().heapUsed
    const bytesPerCachedToken = (after - before) / count
    log(`  ${Math.round(bytesPerCachedToken)} bytes of heap per cached verified token (${count.toLocaleString('en')} tokens, ${tokens[0]!.length} characters each)`)
    return { cases: results, bytesPerCachedToken, tokenCacheCapacity: 20_000 }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function loop(n: number, f: (i: number) => unknown): unknown {
  let sink: unknown
  for (let i = 0; i < n; i++) sink = f(i)
  return sink
}

async function measure(cases: Case[], batches: number, batchMs: number, log: (s: string) => void): Promise<InProcessResult[]> {
  // Calibrate: iterations per batch so one batch takes about batchMs (after a warm-up).
  const perBatch = new Map<string, number>()
  for (const c of cases) {
    await c.fn(50)
    let n = 1
    for (;;) {
      const t = performance.now()
      await c.fn(n)
      const ms = performance.now() - t
      if (ms > 20 || n > 1e8) {
        perBatch.set(c.id, Math.max(1, Math.round((n * batchMs) / ms)))
        break
      }
      n *= 4
    }
  }
  const samples = new Map<string, number[]>(cases.map((c) => [c.id, []]))
  for (let b = 0; b < batches; b++) {
    for (const c of cases) {
      const n = perBatch.get(c.id)!
      const t = process.hrtime.bigint()
      await c.fn(n)
      samples.get(c.id)!.push(Number(process.hrtime.bigint() - t) / n)
    }
  }
  const results = cases.map((c): InProcessResult => {
    const s = [...samples.get(c.id)!].sort((a, b) => a - b)
    return { id: c.id, label: c.label, medianNs: s[Math.floor(s.length / 2)]!, minNs: s[0]!, ...(c.baseline && { baseline: c.baseline }) }
  })
  for (const r of results) {
    const base = results.find((b) => b.id === r.baseline)
    if (base) r.ratioToBaseline = r.medianNs / base.medianNs
  }
  log(`  ${results.length} cases × ${batches} batches of ~${batchMs} ms`)
  return results
}
