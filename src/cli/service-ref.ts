import { serviceIdProblem } from '../api/service-name.js'
import { CliError, usageError } from './errors.js'

/**
 * The service a command names, and its project: a service name, in the project of `--project`
 * or the config; or, as gcloud also takes, a full resource name that names the project too —
 * `projects/P/services/S`, or gcloud's `projects/P/locations/L/services/S`. `project` may be a
 * function, called only for a plain name (it throws when no project is set). A service URL,
 * pasted from `services describe` or the browser, is refused with the name to type instead:
 * commands take names, as gcloud's do, and a URL would otherwise reach the API as a name with
 * slashes in it ("No such endpoint").
 */
export function serviceRef(project: string | (() => string), arg: string): { project: string; service: string } {
  const full = /^projects\/([^/]+)\/(?:locations\/[^/]+\/)?services\/([^/]+)$/.exec(arg)
  if (full) return { project: full[1]!, service: full[2]! }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) throw usageError(urlGiven(arg))
  if (!travelsAsName(arg)) throw new CliError(`ERROR: (INVALID_ARGUMENT) ${serviceIdProblem(arg)}`, 1, 'INVALID_ARGUMENT')
  // Asked for only now: a full name needs no configured project, nor does the advice for a URL.
  return { project: typeof project === 'string' ? project : project(), service: arg }
}

/**
 * Whether a name reaches the server as a name, to be judged there like any other. An empty one,
 * `.` or `..`, or one with a slash, would not: the URL would name another route (the list, the
 * project, `../../v1/roles`) and the answer would be "No such endpoint: GET /v2/…" or another
 * resource. Those get the server's own words for a bad name, and its status (exit 1).
 */
function travelsAsName(arg: string): boolean {
  return arg !== '' && arg !== '.' && arg !== '..' && !arg.includes('/')
}

function urlGiven(arg: string): string {
  let labels: string[] = []
  try {
    labels = new URL(arg).hostname.split('.')
  } catch {
    // not even a URL: the plain advice
  }
  // A service URL is SERVICE.PROJECT.<gateway host>.
  const [service, project] = labels
  const advice = labels.length >= 3 && service && project ? ` Did you mean ${service} --project ${project}?` : ''
  return `'${arg.replace(/\p{Cc}/gu, '?')}' is a URL; give the service's name, as with gcloud.${advice}`
}
