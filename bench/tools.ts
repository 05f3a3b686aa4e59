import { existsSync } from 'node:fs'
import { run } from './processes.js'

/** nginx (with its Lua module, for the nginx data plane), Caddy, wrk and a C compiler (fixed-rate.c) from Debian; the versions go into the report. */
export async function checkTools(): Promise<{ nginx: string; wrk: string } | { missing: string[] }> {
  const nginx = await run('nginx', ['-v']).catch(() => undefined)
  const wrk = await run('wrk', ['-v']).catch(() => undefined)
  const caddy = await run('caddy', ['version']).catch(() => undefined)
  const cc = await run('cc', ['--version']).catch(() => undefined)
  const lua = existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so')
  const missing = [...(nginx?.code === 0 ? [] : ['nginx']), ...(lua ? [] : ['libnginx-mod-http-lua']), ...(caddy?.code === 0 ? [] : ['caddy']), ...(wrk ? [] : ['wrk']), ...(cc?.code === 0 ? [] : ['gcc'])]
  if (missing.length) return { missing }
  return {
    nginx: /nginx\/(\S+)/.exec(nginx!.stderr)?.[1] ?? '?',
    wrk: /wrk (?:debian\/)?(\S+)/.exec(wrk!.stdout + wrk!.stderr)?.[1] ?? '?',
  }
}
