/**
 * The status line and headers of an upstream's answer Postern relays, in bytes: an app's cookies,
 * security policy and preload links add up past Node's default (16 KB) and nginx's (4 KB), where
 * an answer would be 502. Every hop takes the same: the gateway's upstream pools and upgrades,
 * nginx's proxy_buffer_size on the nginx data plane, and `postern services proxy`.
 */
export const MAX_RESPONSE_HEADER_BYTES = 64 * 1024
