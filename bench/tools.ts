import { run } from './processes.js'

/** nginx and wrk from Debian; the versions go into the report. */
export async function checkTools(): Promise<{ nginx: string; wrk: string } | { missing: string[] }> {
  const nginx = await run('nginx', ['-v']).catch(() => undefined)
  const wrk = await run('wrk', ['-v']).catch(() => undefined)
  const missing = [...(nginx?.code === 0 ? [] : ['nginx']), ...(wrk ? [] : ['wrk'])]
  if (missing.length) return { missing }
  return {
    nginx: /nginx\/(\S+)/.exec(nginx!.stderr)?.[1] ?? '?',
    wrk: /wrk (?:debian\/)?(\S+)/.exec(wrk!.stdout + wrk!.stderr)?.[1] ?? '?',
  }
}
