import { PassThrough } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { REPLAY_LIMIT, SentBody } from './sent-body.js'

describe('SentBody', () => {
  it('keeps every chunk read, in order, up to the limit', async () => {
    const body = new PassThrough()
    const sent = new SentBody(body)
    body.write(Buffer.from('one '))
    body.write(Buffer.alloc(REPLAY_LIMIT - 8, 1))
    body.write(Buffer.from('two '))
    await tick()
    expect(sent.replayable).toBe(true)
    expect(Buffer.concat(sent.chunks).length).toBe(REPLAY_LIMIT)
    expect(sent.chunks[0]!.toString()).toBe('one ')
  })

  it('past the limit it keeps nothing and says so', async () => {
    const body = new PassThrough()
    const sent = new SentBody(body)
    body.write(Buffer.alloc(REPLAY_LIMIT + 1))
    await tick()
    expect(sent.replayable).toBe(false)
    expect(sent.chunks).toEqual([])
    expect(body.listenerCount('data')).toBe(0)
  })

  it('forgets what it kept once told to', async () => {
    const body = new PassThrough()
    const sent = new SentBody(body)
    body.write(Buffer.from('x'))
    await tick()
    sent.forget()
    expect([sent.replayable, sent.chunks.length, body.listenerCount('data')]).toEqual([false, 0, 0])
  })
})
