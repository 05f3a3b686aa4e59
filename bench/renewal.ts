import { join } from 'node:path'
import { importDist } from './dist.js'
import { BENCH_DOMAIN, insertUsers, startPostern } from './postern.js'
import { cpuSeconds } from './processes.js'
import { median } from './startup.js'
import { serverSigningKey, TokenMint } from './tokens.js'

export interface RenewalResult {
  callers: number
  linesPerBatch: number
  batches: number
  /** Postern's CPU per renewal line (µs, median over rounds): decided, the change feed having just moved; answered again, nothing having changed since. */
  decidedUs: number
  answeredUs: number
  /** answered ÷ decided, per round, then the median. */
  ratio: number
  rounds: { decidedUs: number; answeredUs: number }[]
}

/**
 * What the nginx data plane's bulk renewals (src/gateway/nginx/renewal.ts) cost Postern: bodies
 * of RENEW_MAX_LINES lines, the tokens of 1,000 callers, posted as nginx's workers post them
 * (each line with the stamp of the answer it holds). The baseline, in the same rounds: the body
 * right after a change reached Postern (a user added, which moves the change feed as any grant
 * or revocation does), when every line is decided again and answered in full; against it, the
 * body again with nothing changed, answered `same`. CPU is Postern's own (/proc), over `batches`
 * bodies of each kind per round.
 */
export async function runRenewal(dir: string, o: { rounds: number; batches?: number; callers?: number; log?: (s: string) => void }): Promise<RenewalResult> {
  const log = o.log ?? (() => undefined)
  const callers = o.callers ?? 1_000
  const batches = o.batches ?? 5
  const { RENEW_MAX_LINES, RENEW_PATH, DECISION_HOST, DECISION_KEY_HEADER } = await importDist<typeof import('../src/gateway/nginx/decision-protocol.js')>('gateway/nginx/decision-protocol.js')
  const { decisionKey } = await importDist<typeof import('../src/gateway/nginx/decision-key.js')>('gateway/nginx/decision-key.js')
  const { loadOrCreateMasterKeyFile } = await importDist<typeof import('../src/identity/master-key.js')>('identity/master-key.js')
  const postern = await startPostern(join(dir, 'postern'))
  try {
    await postern.cli(['services', 'create', 'bench', '--upstream', 'http://127.0.0.1:9'])
    await postern.cli(['services', 'add-iam-policy-binding', 'bench', `--member=domain:${BENCH_DOMAIN}`, '--role=roles/run.invoker'])
    const signer = await serverSigningKey(postern.dataDir)
    // What nginx shows on its questions: the key derived from the master key in the data dir.
    const headers = { host: DECISION_HOST, [DECISION_KEY_HEADER]: decisionKey(loadOrCreateMasterKeyFile(postern.dataDir).key) }
    const emails = Array.from({ length: callers }, (_, i) => `user${String(i).padStart(4, '0')}@${BENCH_DOMAIN}`)
    const mint = new TokenMint(signer, postern.controlUrl, await insertUsers(postern.dataDir, emails))
    const host = postern.hostOf('bench')
    const line = (token: string) => `GET\t${host}\tBearer ${token}`
    const lines = mint.mint(RENEW_MAX_LINES).map(line)
    // As nginx sends them: each line with the stamp of the last full answer it got ('' before the first).
    const stamps = lines.map(() => '')
    const renew = async (text: string): Promise<string[][]> => {
      const res = await fetch(`http://127.0.0.1:${postern.gatewayPort}${RENEW_PATH}`, { method: 'POST', body: text, headers })
      return (await res.text()).split('\n').map((l) => l.split('\t'))
    }
    const renewAll = async (): Promise<string[]> => {
      const answers = await renew(lines.map((l, i) => `${l}\t${stamps[i]}`).join('\n'))
      // An allow ends with its stamp and the hold milliseconds (decision-protocol.ts).
      answers.forEach((a, i) => a[0] === 'allow' && (stamps[i] = a.at(-2)!))
      return answers.map((a) => a[0]!)
    }
    const allAllowed = async () => (await renewAll()).every((v) => v === 'allow' || v === 'same')
    for (let i = 0; i < 50 && !(await allAllowed()); i++) await new Promise((r) => setTimeout(r, 200))
    if (!(await allAllowed())) throw new Error('renewal bench: the callers were not allowed')
    let probes = 0
    /** A new caller, admitted once Postern has applied the change that adds them: then the feed has moved. */
    const change = async () => {
      const [probe] = await insertUsers(postern.dataDir, [`probe-${probes++}@${BENCH_DOMAIN}`])
      const probeLine = line(new TokenMint(signer, postern.controlUrl, [probe!]).mint(1)[0]!)
      for (let i = 0; i < 100; i++) {
        if ((await renew(probeLine))[0]![0] === 'allow') return
        await new Promise((r) => setTimeout(r, 20))
      }
      throw new Error('renewal bench: a change did not reach Postern within 2 s')
    }
    const cpu = () => cpuSeconds(postern.process.pid)
    const rounds: RenewalResult['rounds'] = []
    for (let r = 0; r < o.rounds; r++) {
      let decided = 0
      let answered = 0
      for (let b = 0; b < batches; b++) {
        await change()
        const c0 = cpu()
        await renewAll()
        const c1 = cpu()
        await renewAll()
        decided += c1 - c0
        answered += cpu() - c1
      }
      const lines = batches * RENEW_MAX_LINES
      rounds.push({ decidedUs: (decided * 1e6) / lines, answeredUs: (answered * 1e6) / lines })
      log(`  round ${r + 1}: decided ${rounds.at(-1)!.decidedUs.toFixed(1)} µs/line, answered same ${rounds.at(-1)!.answeredUs.toFixed(1)} µs/line`)
    }
    return {
      callers,
      linesPerBatch: RENEW_MAX_LINES,
      batches,
      decidedUs: median(rounds.map((x) => x.decidedUs)),
      answeredUs: median(rounds.map((x) => x.answeredUs)),
      ratio: median(rounds.map((x) => x.answeredUs / x.decidedUs)),
      rounds,
    }
  } finally {
    await postern.stop()
  }
}
