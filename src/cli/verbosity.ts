/**
 * gcloud's `--verbosity`, from the most said to the least. What Postern's CLI has to say at each:
 * `debug` adds a line per HTTP request it makes (http-trace.ts); up to `warning` (the default)
 * its warnings are printed; `error` leaves them out; `critical` and `none` leave out the error a
 * command fails with too, as gcloud's do (it logs them at ERROR), and the exit code still says
 * it failed. As in gcloud, the level takes effect once the command line has parsed: a usage error
 * commander finds (an unknown command or flag, a missing argument) is said at every level.
 * Status lines answer to --quiet, not to --verbosity, as gcloud's answer to its user output.
 */
export const VERBOSITIES = ['debug', 'info', 'warning', 'error', 'critical', 'none'] as const
export type Verbosity = (typeof VERBOSITIES)[number]

export const showsWarnings = (level: Verbosity): boolean => VERBOSITIES.indexOf(level) <= VERBOSITIES.indexOf('warning')

export const showsErrors = (level: Verbosity): boolean => VERBOSITIES.indexOf(level) <= VERBOSITIES.indexOf('error')
