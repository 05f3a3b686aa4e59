import { run } from './processes.js'

/**
 * What one RS256 check costs on this machine, in microseconds: `openssl speed rsa2048`'s verify
 * rate, from the same OpenSSL whose EVP_PKEY_verify the nginx data plane's Lua calls for each
 * token it has not seen (nginx-lua-tokens.ts). Beside a warm request's cost it bounds the cold
 * ratio: no new token can cost less than this check. Undefined where `openssl` is missing.
 */
export async function rsaCheckMicros(): Promise<number | undefined> {
  const r = await run('openssl', ['speed', '-seconds', '1', 'rsa2048'], { timeoutMs: 60_000 }).catch(() => undefined)
  // The last line: "rsa 2048 bits 0.000416s 0.000020s   2402.0  49493.0" (sign and verify times, then rates).
  const verifyPerSecond = r?.code === 0 ? Number(/rsa\s+2048\s+bits\s+\S+\s+\S+\s+[\d.]+\s+([\d.]+)/.exec(r.stdout)?.[1]) : NaN
  return verifyPerSecond > 0 ? 1e6 / verifyPerSecond : undefined
}
