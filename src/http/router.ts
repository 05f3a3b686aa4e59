/**
 * A small router for the control API's Google-style paths: `{name}` matches one path segment
 * (no '/' and no ':'), `{name*}` one segment that may contain ':' (member strings), and a custom
 * verb follows the last segment (`/v2/projects/{p}/services/{s}:getIamPolicy`). Matching runs on
 * the raw path, so an encoded '%2F' never splits a segment; parameters are decoded after.
 */
export type Params = Record<string, string>

interface Route<H> {
  method: string
  pattern: RegExp
  names: string[]
  handler: H
}

export type Match<H> = { handler: H; params: Params } | { methodNotAllowed: string[] } | undefined

export class Router<H> {
  private readonly routes: Route<H>[] = []

  add(method: string, template: string, handler: H): this {
    const names: string[] = []
    const source = template
      .split(/(\{[a-zA-Z]+\*?\})/)
      .map((part) => {
        const m = /^\{([a-zA-Z]+)(\*?)\}$/.exec(part)
        if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        names.push(m[1]!)
        return m[2] ? '([^/]+?)' : '([^/:]+)'
      })
      .join('')
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler })
    return this
  }

  match(method: string, rawPath: string): Match<H> {
    const allowed: string[] = []
    for (const r of this.routes) {
      const m = r.pattern.exec(rawPath)
      if (!m) continue
      if (r.method !== method) {
        allowed.push(r.method)
        continue
      }
      const params: Params = {}
      for (let i = 0; i < r.names.length; i++) {
        const value = safeDecode(m[i + 1]!)
        if (value === undefined) return undefined
        params[r.names[i]!] = value
      }
      return { handler: r.handler, params }
    }
    // HEAD wherever GET is served (RFC 9110 §9.3.2): the GET handler's answer, which Node sends without its body.
    if (method === 'HEAD' && allowed.includes('GET')) return this.match('GET', rawPath)
    return allowed.length ? { methodNotAllowed: allowed } : undefined
  }
}

function safeDecode(text: string): string | undefined {
  try {
    const value = decodeURIComponent(text)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    return value.includes('/') || /[\x00-\x1f]/.test(value) ? undefined : value
  } catch {
    return undefined
  }
}
