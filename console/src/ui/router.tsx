import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react'

/** A tiny History API router: the control plane serves index.html for every path under /console. */
const listeners = new Set<() => void>()
/** The address shown, to put back when a Back is refused; and what may refuse one. */
let current = window.location.href
let leaveGuard: (() => boolean) | undefined

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  current = window.location.href
  for (const l of listeners) l()
}

/**
 * Lets `ask` refuse a Back or Forward within the console (an open dialog holding unsaved input:
 * the page would change under it and drop it). Returns what removes the guard.
 */
export function guardLeaving(ask: () => boolean): () => void {
  leaveGuard = ask
  return () => {
    if (leaveGuard === ask) leaveGuard = undefined
  }
}

// Listening from when this module loads, before any page does: a refused Back is undone (the
// address put back) before a page hears of it.
window.addEventListener('popstate', (e) => {
  if (leaveGuard && !leaveGuard()) {
    e.stopImmediatePropagation()
    window.history.pushState(null, '', current)
    return
  }
  current = window.location.href
})

export function useLocation(): { pathname: string; search: URLSearchParams } {
  const [, setTick] = useState(0)
  useEffect(() => {
    const update = () => setTick((n) => n + 1)
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return { pathname: window.location.pathname.replace(/\/+$/, '') || '/', search: new URLSearchParams(window.location.search) }
}

/** An ordinary link that changes the page without a reload; modified clicks open a tab as usual. */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a href={to} onClick={handle} {...rest} />
}

export const consolePath = {
  services: (p: string) => `/console/projects/${encodeURIComponent(p)}/services`,
  service: (p: string, s: string) => `/console/projects/${encodeURIComponent(p)}/services/${encodeURIComponent(s)}`,
  serviceAccounts: (p: string) => `/console/projects/${encodeURIComponent(p)}/service-accounts`,
  auditLog: (p: string) => `/console/projects/${encodeURIComponent(p)}/audit-log`,
  workforcePools: (p: string) => `/console/projects/${encodeURIComponent(p)}/workforce-pools`,
  users: (p: string) => `/console/projects/${encodeURIComponent(p)}/users`,
  groups: (p: string) => `/console/projects/${encodeURIComponent(p)}/groups`,
}
