/**
 * The Postern paths on a service's host now live in src/http/postern-paths.ts (the control
 * plane's sign-in page needs them too). gateway.ts still imports them from here until the
 * gateway's deciding and responding are reworked; then this file goes.
 */
export * from '../../http/postern-paths.js'
