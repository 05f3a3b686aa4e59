import type { Readable } from 'node:stream'

/** The most of a request body kept to send again: past it, a refused stream is not resent. */
export const REPLAY_LIMIT = 64 * 1024

/**
 * How many times a refused stream is sent again. The upstream processed none of it (RFC 9113
 * §8.7), so any number is safe; the bound stops a loop with an upstream that refuses everything.
 * Once was not enough: a grpc-js server retiring its connections at 100 ms, slowed by a busy
 * machine, retired the new connection too before reading the stream sent again on it (20 of
 * 45,000 calls failed so; none of 45,000 with three).
 */
export const MAX_RESENDS = 3

/**
 * What a client's stream has read of its request body, kept while the request may have to go to
 * the upstream again (until it answers): it listens beside the pipe to the upstream, so it sees
 * every chunk the pipe writes, and stops keeping them past REPLAY_LIMIT bytes.
 */
export class SentBody {
  readonly chunks: Buffer[] = []
  private bytes = 0
  private keeping = true
  private readonly keep = (chunk: Buffer) => {
    this.bytes += chunk.length
    if (this.bytes > REPLAY_LIMIT) this.forget()
    else this.chunks.push(chunk)
  }

  constructor(private readonly body: Readable) {
    body.on('data', this.keep)
  }

  /** Whether all that was read is kept (nothing has been dropped past the limit, or forgotten). */
  get replayable(): boolean {
    return this.keeping
  }

  /** Nothing more will be sent again (the upstream answered, or the relay ended). */
  forget(): void {
    this.keeping = false
    this.chunks.length = 0
    this.body.off('data', this.keep)
  }
}
