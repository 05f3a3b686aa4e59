import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react'

/** A tiny History API router: the control plane serves index.html for every path under /console. */
const listeners = new Set<() => void>()

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  for (const l of listeners) l()
}

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
