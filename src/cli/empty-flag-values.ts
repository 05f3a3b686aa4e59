/**
 * The global flags that take a value and have no use for an empty one (`--project=`, often a
 * shell variable that was never set). Each was taken as absent, or sent as is: `--project=` then
 * said "No project: pass --project", exit 1, though the flag was passed; `--configuration=` and
 * `--impersonate-service-account=` quietly fell back to the active configuration and to none. The
 * other flags that take a value refuse an empty one as a usage error (--format=, --limit=,
 * --timeout=, --port=: exit 2, DESIGN §6), and so do these, before the command does anything.
 * `serve --project=` is left to serve, which checks its project id itself.
 */
const NEEDS_VALUE = {
  project: { flag: '--project', example: 'my-project', instead: "the configuration's project (postern config get project)" },
  configuration: { flag: '--configuration', example: 'NAME', instead: 'the active configuration (postern config configurations list)' },
  impersonateServiceAccount: { flag: '--impersonate-service-account', example: 'EMAIL', instead: 'the property auth/impersonate_service_account, if set' },
} as const

/** The usage error for the first of those flags given an empty (or blank) value; undefined for none. */
export function emptyFlagValue(opts: Readonly<Record<string, unknown>>, command: string): string | undefined {
  for (const [key, o] of Object.entries(NEEDS_VALUE)) {
    if (key === 'project' && command === 'serve') continue
    const value = opts[key]
    if (typeof value === 'string' && value.trim() === '') return `${o.flag} needs a value, e.g. ${o.flag}=${o.example}; to use ${o.instead}, leave the flag out.`
  }
  return undefined
}
