/**
 * The CLI's credentials (`credentials.json`): one sign-in per server and account. The same email
 * at two Posterns (a person at a local Postern and at the team's; two demos, both with
 * owner@example.com) is two sign-ins that coexist, each with the tokens of the server that issued
 * them: a configuration uses the one of its own server and account, and a token is never sent to
 * another server. Pure: the file is read and written by cli-config-files.ts.
 */

export interface StoredAccount {
  type: 'user' | 'service_account' | 'federated'
  server: string
  refreshToken?: string
  /** Cached access token for the Postern API and its expiry in ms. */
  accessToken?: string
  accessTokenExpiry?: number
  /** Cached ID token for services (aud postern-cli) and its expiry in ms. */
  idToken?: string
  idTokenExpiry?: number
  /** Service accounts: the key file, as given to activate-service-account. */
  keyFile?: Record<string, string>
  /** Federated sign-ins: where the session came from and when it ends. */
  federation?: Record<string, unknown>
}

/** An account's credentials at one server: the pair (server's origin, account) is its key. */
export interface SignIn extends StoredAccount {
  /** The email (or a federated principal) the sign-in is of. */
  account: string
}

export interface Credentials {
  signIns: SignIn[]
}

/**
 * Which server a sign-in belongs to: its origin, as the CLI has always compared servers (a
 * service-account key names its token endpoint, not the server URL a configuration holds).
 */
export function serverKey(server: string): string {
  try {
    return new URL(server).origin
  } catch {
    return server
  }
}

export function sameServer(a: string, b: string): boolean {
  return serverKey(a) === serverKey(b)
}

/**
 * The credentials in a parsed `credentials.json`, whichever version wrote it. The previous one
 * kept one entry per email (`accounts: {EMAIL: {server, …}}`); each such entry becomes the sign-in
 * of that email at the server it names, so it stays usable there, and the file is written in the
 * new shape at the next change. Entries that are not objects with a server are dropped: they
 * could be sent nowhere.
 */
export function parseCredentials(raw: unknown): Credentials {
  const signIns: SignIn[] = []
  if (!isObject(raw)) return { signIns }
  if (Array.isArray(raw.signIns)) {
    for (const s of raw.signIns) if (isObject(s) && typeof s.account === 'string' && typeof s.server === 'string') putSignIn({ signIns }, s as unknown as SignIn)
  }
  if (isObject(raw.accounts)) {
    for (const [account, stored] of Object.entries(raw.accounts)) {
      if (!isObject(stored) || typeof stored.server !== 'string') continue
      // A file never holds both shapes unless edited by hand; then the new shape's entry stands.
      if (!findSignIn({ signIns }, stored.server, account)) signIns.push({ ...(stored as unknown as StoredAccount), account })
    }
  }
  return { signIns }
}

/** The sign-in of `account` at `server`, if there is one. */
export function findSignIn(credentials: Credentials, server: string, account: string): SignIn | undefined {
  return credentials.signIns.find((s) => s.account === account && sameServer(s.server, server))
}

/** Every sign-in of `account`, at whichever servers. */
export function signInsOf(credentials: Credentials, account: string): SignIn[] {
  return credentials.signIns.filter((s) => s.account === account)
}

/** Adds a sign-in, or replaces the one of the same account at the same server (in its place, so lists keep their order). */
export function putSignIn(credentials: Credentials, signIn: SignIn): void {
  const at = credentials.signIns.findIndex((s) => s.account === signIn.account && sameServer(s.server, signIn.server))
  if (at === -1) credentials.signIns.push(signIn)
  else credentials.signIns[at] = signIn
}

export function removeSignIn(credentials: Credentials, server: string, account: string): void {
  credentials.signIns = credentials.signIns.filter((s) => !(s.account === account && sameServer(s.server, server)))
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
