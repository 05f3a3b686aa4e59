/**
 * The one error type. Every failure that reaches a user carries a stable `status` from a closed
 * set (Google's canonical codes, DESIGN §5); the HTTP code comes from one table, and the wire
 * shape `{"error":{"code","status","message"}}` from one function.
 */
const HTTP_CODE = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  RESOURCE_EXHAUSTED: 429,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 431,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const

export type ErrorStatus = keyof typeof HTTP_CODE

export class PosternError extends Error {
  override readonly name = 'PosternError'
  constructor(
    readonly status: ErrorStatus,
    message: string,
    options?: ErrorOptions & { headers?: Record<string, string>; condition?: string },
  ) {
    super(message, options)
    this.headers = options?.headers
    this.condition = options?.condition
  }
  readonly headers: Record<string, string> | undefined
  /**
   * The state behind the error, said of that state (`the database does not answer (…)`), for
   * health answers and logs; `message` says it to the caller whose request it refused ("nothing
   * was changed. Try again shortly"), which reads wrong where nothing was asked.
   */
  readonly condition: string | undefined

  get httpCode(): number {
    return HTTP_CODE[this.status]
  }
}

/** What is wrong, for a health answer or a log line: the error's condition when it has one, else its message. */
export function conditionOf(err: Error): string {
  return (err instanceof PosternError && err.condition) || err.message
}

export interface ErrorBody {
  error: { code: number; status: ErrorStatus; message: string }
}

/** Anything thrown becomes a PosternError; what we did not expect is INTERNAL and says nothing more. */
export function asPosternError(err: unknown): PosternError {
  if (err instanceof PosternError) return err
  return new PosternError('INTERNAL', 'Internal error.', { cause: err })
}

export function errorBody(err: PosternError): ErrorBody {
  return { error: { code: err.httpCode, status: err.status, message: err.message } }
}

export const invalid = (message: string) => new PosternError('INVALID_ARGUMENT', message)
export const notFound = (message: string) => new PosternError('NOT_FOUND', message)
export const denied = (message: string) => new PosternError('PERMISSION_DENIED', message)
