import pg from 'pg'

// The LISTEN connection only ever receives: when it goes silent (a partition, a middlebox that
// lost its state, iptables DROP, a SIGSTOPped server) nothing is sent on it that could fail, and
// TCP keepalive does not help (a stopped server's kernel still answers probes, a relay answers for
// it, and Linux's defaults give up after eleven minutes). So it is asked a trivial question every
// CHECK_EVERY_MS, and replaced when it does not answer within CHECK_ANSWER_MS: notifications then
// lag by seconds at most, and polling covers the gap meanwhile.
const CHECK_EVERY_MS = 3_000
const CHECK_ANSWER_MS = 3_000
const FIRST_RETRY_MS = 500
const LAST_RETRY_MS = 10_000

export interface ChannelListenerOptions {
  connection: pg.ClientConfig
  channel: string
  /** Called on each notification, and once each time the channel is listened to anew (to catch up on what was missed). */
  onNotify: () => void
  onError: (err: Error) => void
  /** Told of each connection opened, so the driver's close() can cut one that does not close when asked. */
  track: (client: pg.Client) => void
}

/**
 * One connection LISTENing on a channel for as long as it runs: checked while it is up, and
 * re-established with backoff whenever it errors, ends or goes silent.
 */
export class ChannelListener {
  private client: pg.Client | undefined
  /** Checks the current connection while there is one. */
  private checking: NodeJS.Timeout | undefined
  private delay = FIRST_RETRY_MS
  private ended = false

  constructor(private readonly o: ChannelListenerOptions) {}

  /** Resolves once the first attempt has succeeded or failed (a failed one is retried in the background). */
  start(): Promise<void> {
    return this.connect()
  }

  async end(): Promise<void> {
    this.ended = true
    clearInterval(this.checking)
    await this.client?.end().catch(() => undefined)
  }

  private async connect(): Promise<void> {
    if (this.ended) return
    const client = new pg.Client(this.o.connection)
    this.o.track(client)
    let replaced = false
    /** Gives up on this connection (said why, when there is a why) and opens another after the backoff. */
    const replace = (err?: Error) => {
      if (replaced || this.ended) return
      replaced = true
      if (err) this.o.onError(err)
      if (this.client === client) {
        clearInterval(this.checking)
        this.client = undefined
      }
      // Not end(): that waits for the server's goodbye, which a silent connection never sends.
      destroy(client)
      setTimeout(() => void this.connect(), this.delay).unref()
      this.delay = Math.min(this.delay * 2, LAST_RETRY_MS)
    }
    client.on('notification', () => this.o.onNotify())
    client.on('error', replace)
    client.on('end', () => replace())
    try {
      await client.connect()
      await client.query(`LISTEN ${this.o.channel}`)
    } catch (err) {
      replace(err as Error)
      return
    }
    // Ended while it connected: end() could not reach it then.
    if (this.ended) return void client.end().catch(() => undefined)
    this.client = client
    this.delay = FIRST_RETRY_MS
    this.checking = setInterval(() => void this.check(client).then((err) => err && replace(err)), CHECK_EVERY_MS)
    this.checking.unref()
    this.o.onNotify()
  }

  /** Undefined when the connection answered a trivial query in time; else why it is to be replaced. */
  private async check(client: pg.Client): Promise<Error | undefined> {
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`the connection listening for changes (LISTEN ${this.o.channel}) did not answer a check within ${CHECK_ANSWER_MS} ms; replacing it (changes are polled for meanwhile)`)), CHECK_ANSWER_MS)
    })
    const answered = client.query('SELECT 1').then(
      () => undefined,
      (err: Error) => err,
    )
    try {
      return await Promise.race([answered, silent])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Closes a connection's socket at once, without the protocol's goodbye (pg has no public way). */
export function destroy(client: pg.Client): void {
  ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
}
