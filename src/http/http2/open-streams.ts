import type { Http2Session, ServerHttp2Stream } from 'node:http2'

/** The streams a server session has open, counted from its 'stream' and their 'close' events. */
export class OpenStreams {
  count = 0
  /** When the session last had no stream open (Date.now()): its start, or its last stream's end. */
  idleSince = Date.now()
  private readonly idle: (() => void)[] = []

  constructor(session: Http2Session) {
    const closed = () => {
      if (--this.count > 0) return
      this.idleSince = Date.now()
      for (const listener of this.idle) listener()
    }
    session.on('stream', (stream: ServerHttp2Stream) => {
      this.count++
      stream.once('close', closed)
    })
  }

  /** Calls `listener` each time the last open stream ends (on Node's stack: defer real work). */
  onIdle(listener: () => void): void {
    this.idle.push(listener)
  }
}
