import { describe, expect, it } from 'vitest';
import { hostKey } from '../../src/serve/address-key.js';

describe('hostKey: what serve counts as one host', () => {
  it('keeps an IPv4 address, and reads an IPv4-mapped IPv6 address as its IPv4 one', () => {
    expect(hostKey('192.0.2.7')).toBe('192.0.2.7');
    expect(hostKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(hostKey('0:0:0:0:0:ffff:c000:207')).toBe('192.0.2.7');
    expect(hostKey('::ffff:192.0.2.8')).not.toBe(hostKey('::ffff:192.0.2.7'));
  });

  it('keys an IPv6 address by its /64, however it is written', () => {
    const key = '2001:db8:1:2::/64';
    for (const a of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::1.2.3.4', '2001:db8:1:2::1%eth0']) expect(hostKey(a)).toBe(key);
    expect(hostKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(hostKey('::1')).toBe('0:0:0:0::/64');
    expect(hostKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(hostKey('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves what is not an address as it is', () => {
    expect(hostKey('?')).toBe('?');
  });
});
