import { describe, expect, it } from 'vitest'
import { SESSION_CHANGE, type Change } from '../store/records.js'
import { SignIns } from './sign-ins.js'

/** A store of families by id, counting its reads. */
function storeOf(families: Record<string, { live: boolean; subjectUid: string }>) {
  const reads: string[] = []
  return {
    reads,
    refreshFamilyState: (id: string) => {
      reads.push(id)
      return Promise.resolve(families[id] && { ...families[id] })
    },
  }
}

const change = (key: string): Change => ({ seq: 1, kind: 'session', key })

describe('SignIns', () => {
  it('reads a sign-in once, then answers from memory; an unknown one is not live', async () => {
    const store = storeOf({ f1: { live: true, subjectUid: 'u1' } })
    const signIns = new SignIns(store)
    expect(await signIns.live('f1')).toBe(true)
    expect(signIns.live('f1')).toBe(true)
    expect(await signIns.live('nope')).toBe(false)
    expect(store.reads).toEqual(['f1', 'nope'])
  })

  it('marks a family ended by its change, without reading it', async () => {
    const store = storeOf({ f1: { live: true, subjectUid: 'u1' } })
    const signIns = new SignIns(store)
    await signIns.live('f1')
    signIns.forget([change(SESSION_CHANGE.refreshFamily('f1'))])
    expect(signIns.live('f1')).toBe(false)
    expect(store.reads).toEqual(['f1'])
  })

  it("a subject's end reads again that subject's sign-ins alone", async () => {
    const families = { a: { live: true, subjectUid: 'ann' }, b: { live: true, subjectUid: 'bob' } }
    const store = storeOf(families)
    const signIns = new SignIns(store)
    await signIns.live('a')
    await signIns.live('b')
    families.a.live = false
    signIns.forget([change(SESSION_CHANGE.subject('ann'))])
    expect(await signIns.live('a')).toBe(false)
    expect(signIns.live('b')).toBe(true)
    expect(store.reads).toEqual(['a', 'b', 'a'])
  })

  it('keeps nothing read while an ending arrived: the next asker reads again', async () => {
    const families = { a: { live: true, subjectUid: 'ann' } }
    const store = storeOf(families)
    const signIns = new SignIns(store)
    const first = signIns.live('a')
    signIns.forget([change(SESSION_CHANGE.subject('ann'))])
    families.a.live = false
    expect(await first).toBe(true)
    expect(await signIns.live('a')).toBe(false)
    expect(store.reads).toEqual(['a', 'a'])
  })
})
