import { request } from 'undici'
import { WebAgent } from './web-sign-in.js'

/** The headers of a browser's top-level navigation (Chromium's). */
export const NAVIGATE = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none' }

const setCookies = (h: Record<string, string | string[] | undefined>) => [h['set-cookie'] ?? []].flat()

/**
 * Signs a browser in to a service over HTTP, step by step as Chromium does: the gateway's
 * redirect and state cookie, /signin, the hand-off page, the callback. Returns the Cookie pair
 * that carries the service session, and the console session's.
 */
export async function browserSignIn(o: { gatewayPort: number; host: string; controlUrl: string; email: string; password: string; path?: string }): Promise<{ cookie: string; consoleCookie: string }> {
  const path = o.path ?? '/page'
  const gw = (target: string, headers: Record<string, string>) => request(`http://127.0.0.1:${o.gatewayPort}${target}`, { headers: { host: o.host, ...headers } })
  const start = await gw(path, NAVIGATE)
  await start.body.dump()
  if (start.statusCode !== 302) throw new Error(`expected a redirect to sign in, got ${start.statusCode}`)
  const state = setCookies(start.headers)[0]!.split(';')[0]!
  const agent = new WebAgent(o.controlUrl)
  const handOff = new URL(String(start.headers.location))
  const signedIn = await agent.signIn(o.email, o.password, handOff.pathname + handOff.search)
  if (signedIn.status !== 303) throw new Error(`sign-in failed: ${signedIn.status} ${await signedIn.text()}`)
  const page = await (await agent.fetch(handOff.pathname + handOff.search)).text()
  const onward = /content="0;url=([^"]+)"/.exec(page)?.[1]
  if (!onward) throw new Error(`no onward link on the hand-off page:\n${page}`)
  const callback = new URL(onward.replaceAll('&#38;', '&'))
  const done = await gw(callback.pathname + callback.search, { cookie: state })
  const body = await done.body.text()
  if (done.statusCode !== 302 || done.headers.location !== path) throw new Error(`callback failed: ${done.statusCode} ${body}`)
  const session = setCookies(done.headers).find((c) => /^(__Host-)?postern_service_session=/.test(c))!
  const consoleName = agent.cookie('__Host-postern_session') !== undefined ? '__Host-postern_session' : 'postern_session'
  return { cookie: session.split(';')[0]!, consoleCookie: `${consoleName}=${agent.cookie(consoleName)}` }
}
