/**
 * gcloud's `--verbosity`, from the most said to the least. What Postern's CLI has to say at each:
 * `debug` adds a line per HTTP request it makes (http-trace.ts); up to `warning` (the default)
 * its warnings are printed; `error`, `critical` and `none` leave them out. Errors are printed
 * whatever the level (gcloud leaves them out at `critical` and `none`, but a script that failed
 * silently is worse than one that says why); status lines answer to --quiet, as gcloud's do.
 */
export const VERBOSITIES = ['debug', 'info', 'warning', 'error', 'critical', 'none'] as const
export type Verbosity = (typeof VERBOSITIES)[number]

export const showsWarnings = (level: Verbosity): boolean => VERBOSITIES.indexOf(level) <= VERBOSITIES.indexOf('warning')
