import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { TrustedProxies, addressBucket, canonicalAddress, clientAddress } from './client-address.js'

describe('the client address behind trusted proxies', () => {
  const proxies = TrustedProxies.parse('10.0.0.0/8, 192.0.2.7, fd00::/8')

  it.each([
    // [peer, X-Forwarded-For, client]
    ['203.0.113.5', undefined, '203.0.113.5'],
    ['203.0.113.5', '198.51.100.1', '203.0.113.5'], // an untrusted peer's header is ignored
    ['10.1.2.3', undefined, '10.1.2.3'],
    ['10.1.2.3', '198.51.100.1', '198.51.100.1'],
    ['10.1.2.3', '6.6.6.6, 198.51.100.1', '198.51.100.1'], // what the client wrote sits further left
    ['10.1.2.3', '6.6.6.6, 198.51.100.1, 192.0.2.7', '198.51.100.1'], // two trusted hops
    ['10.1.2.3', ['6.6.6.6', '198.51.100.1, 10.9.9.9'], '198.51.100.1'], // repeated headers join in order
    ['10.1.2.3', '10.0.0.1, 10.0.0.2', '10.0.0.1'], // only proxies: the farthest one
    ['10.1.2.3', 'not-an-ip, 10.0.0.2', '10.0.0.2'], // garbage: the proxy that passed it on
    ['10.1.2.3', 'not-an-ip', '10.1.2.3'],
    ['10.1.2.3', ' , 198.51.100.1 ,', '198.51.100.1'],
    ['10.1.2.3', '198.51.100.1:4711', '198.51.100.1'],
    ['10.1.2.3', '[2001:DB8::1]:443', '2001:db8::1'],
    ['::ffff:10.1.2.3', '198.51.100.1', '198.51.100.1'], // an IPv4 peer on a dual-stack socket
    ['fd12::1', '2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    [undefined, '198.51.100.1', 'unknown'],
  ])('peer %s, X-Forwarded-For %j → %s', (peer, forwardedFor, expected) => {
    expect(clientAddress(peer, forwardedFor, proxies)).toBe(expected)
  })

  it('trusts no one by default', () => {
    expect(clientAddress('127.0.0.1', '198.51.100.1', TrustedProxies.none)).toBe('127.0.0.1')
    expect(TrustedProxies.parse(undefined).cidrs).toEqual([])
    expect(TrustedProxies.parse(' ').cidrs).toEqual([])
  })

  it('gives the same answer for an address however often, and among however many, it is asked', () => {
    const list = TrustedProxies.parse('10.0.0.0/16, fd00::/8')
    const addresses = Array.from({ length: 3000 }, (_, i) => [`10.${i % 2}.${i >> 8}.${i & 255}`, `fd00::${i.toString(16)}`, `fe00::${i.toString(16)}`]).flat()
    for (let pass = 0; pass < 2; pass++) {
      const trusted = addresses.filter((a) => list.has(a))
      expect(trusted).toHaveLength(3000 + 1500) // every fd00::, and the 10.0.x.y half
      expect(trusted.every((a) => a.startsWith('fd00::') || a.startsWith('10.0.'))).toBe(true)
    }
    expect(list.has('not-an-ip')).toBe(false)
    expect(TrustedProxies.none.has('10.0.0.1')).toBe(false)
  })

  it('parses CIDR lists and refuses what is not one, naming it', () => {
    expect(TrustedProxies.parse('127.0.0.1,10.0.0.0/8,::1,2001:DB8::/32').cidrs).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1/128', '2001:db8::/32'])
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0.0/8/8', '10.0.0.0/x', '', '10.0.0.0/-1']) {
      expect(() => TrustedProxies.parse(`127.0.0.1,${bad}`), bad).toThrow(PosternError)
      expect(() => TrustedProxies.parse(`127.0.0.1,${bad}`), bad).toThrow(/--trusted-proxies: '.*' is not an IP address or CIDR range/)
    }
  })

  it('writes addresses one way, and counts IPv6 clients by their /64', () => {
    expect(canonicalAddress('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1')
    expect(canonicalAddress('::FFFF:192.0.2.1')).toBe('192.0.2.1')
    expect(canonicalAddress('2001:db8::1:0:0:1')).toBe('2001:db8::1:0:0:1')
    expect(canonicalAddress('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3')
    expect(canonicalAddress('300.1.1.1')).toBeUndefined()
    expect(canonicalAddress('1::2::3')).toBeUndefined()
    expect(addressBucket('192.0.2.1')).toBe('192.0.2.1')
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(addressBucket('2001:db8:1:2::ffff')).toBe(addressBucket('2001:db8:1:2:aaaa::1'))
  })
})
