import type { PosternProcess } from './server.js'

/**
 * The key an nginx shows Postern on each question it asks (src/gateway/nginx/decision-key.ts),
 * read from what `postern nginx-config` prints for that Postern's store (`--data-dir DIR` or
 * `--database-url URL`, with the same POSTERN_MASTER_KEY in `env`, if any).
 */
export async function printedDecisionKey(p: PosternProcess, store: string[], env?: Record<string, string>): Promise<string> {
  const printed = await p.cli(['nginx-config', ...store], { env })
  const key = /proxy_set_header x-postern-decision-key ([\w-]+);/.exec(printed.stdout)?.[1]
  if (!key) throw new Error(`postern nginx-config printed no decision key (exit ${printed.code}): ${printed.stderr}`)
  return key
}
