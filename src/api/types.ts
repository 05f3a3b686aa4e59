/**
 * The control API's JSON as it travels (DESIGN §5), shared by the CLI, the console and the
 * server's own policy edits. Types only: nothing here may pull in cel-js or node:crypto, because
 * the console bundle imports this folder.
 */

/** An IAM condition (DESIGN §1): a CEL expression with a title; the server compiles it. */
export interface Condition {
  title: string
  description?: string
  expression: string
}

/**
 * One binding. The server narrows members and roles to its parsed types (`Binding<Member, Role>`);
 * the CLI and the console keep them as the strings a person typed.
 */
export interface Binding<M extends string = string, R extends string = string> {
  role: R
  members: M[]
  condition?: Condition
}

/** An IAM policy in Google's IAM v1 shape; the etag guards a read-modify-write. */
export interface Policy<M extends string = string, R extends string = string> {
  version?: number
  bindings?: Binding<M, R>[]
  etag?: string
}

/** What a service is set to: what the CLI and the console read and change, and what the store keeps. */
export interface ServiceSettings {
  upstream: string
  description: string
  invokerIamDisabled: boolean
  customAudiences: string[]
  strictAudience: boolean
  /** Whether a browser without a token is sent to sign in and then admitted by a session cookie (on by default). */
  browserAccess: boolean
  /** Whether the upstream speaks HTTP/2 cleartext (h2c, prior knowledge) rather than HTTP/1.1 (off by default). */
  useHttp2: boolean
  timeoutSeconds: number
  labels: Record<string, string>
}

export interface Service extends ServiceSettings {
  name: string
  uid: string
  uri: string
  /** Output only: allUsers holds run.routes.invoke on it now (its policy, the project's or the organization's), so no token is needed. */
  allUsersMayInvoke?: boolean
  createTime: string
  updateTime: string
  creator: string
  lastModifier: string
  etag: string
}

/** The error body every control route answers with (google.rpc.Status in Google's JSON). */
export interface ApiErrorBody {
  error?: { code?: number; message?: string; status?: string } | string
  /** OAuth endpoints answer with RFC 6749 §5.2 fields instead. */
  error_description?: string
}
