/** Where a sign-in through a workforce pool's provider starts, and where the provider sends the browser back. */
export const FEDERATED_PATHS = { start: '/signin/federated', callback: '/signin/federated/callback' } as const
