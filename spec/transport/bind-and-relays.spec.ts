import { bindPlan } from '../../src/transport/bind';
import { RelayPolicy, normalizeRelayUrl } from '../../src/transport/tickets';

describe('bindPlan', () => {
  it('binds a specific IPv4 address, and IPv6 only on loopback (the binding cannot leave a family out)', () => {
    expect(bindPlan('127.0.0.1:4242').map((a) => a.addresses)).toEqual([
      ['127.0.0.1:4242', '[::1]:0'],
      ['127.0.0.1:4242'],
      ['127.0.0.1:0', '[::1]:0'],
      ['127.0.0.1:0'],
    ]);
    expect(bindPlan('127.0.0.1:4242').map((a) => a.fallbackPort)).toEqual([false, false, true, true]);
    // The loopback companion is not advertised in tickets, invites or hellos.
    expect(bindPlan('127.0.0.1:4242').map((a) => a.hidden)).toEqual(['[::1]', null, '[::1]', null]);
  });

  it('binds a specific IPv6 address, and IPv4 only on loopback', () => {
    expect(bindPlan('[::1]:0').map((a) => a.addresses)).toEqual([['[::1]:0', '127.0.0.1:0'], ['[::1]:0']]);
  });

  it('keeps both families on every interface for an unspecified address, and for no address', () => {
    expect(bindPlan('0.0.0.0:7000').map((a) => a.addresses)).toEqual([['0.0.0.0:7000'], ['0.0.0.0:0']]);
    expect(bindPlan('[::]:0').map((a) => a.addresses)).toEqual([['[::]:0']]);
    expect(bindPlan(null).map((a) => a.addresses)).toEqual([[]]);
  });
});

describe('RelayPolicy', () => {
  it('in default mode accepts only the relays of n0 map, however the URL is spelled', () => {
    const relays = new RelayPolicy('default');
    expect(relays.filter('https://euc1-1.relay.n0.iroh.link./')).toBe('https://euc1-1.relay.n0.iroh.link./');
    expect(relays.filter('https://EUC1-1.relay.n0.iroh.link')).not.toBeNull();
    expect(relays.filter('https://euc1-1.relay.n0.iroh.link:443/')).not.toBeNull();
    expect(relays.filter('https://euc1-1.relay.n0.iroh.link:8443/')).toBeNull();
    expect(relays.filter('http://euc1-1.relay.n0.iroh.link/')).toBeNull();
    expect(relays.filter('https://192.168.1.1:22/')).toBeNull();
    expect(relays.filter('https://evil.example/')).toBeNull();
    expect(relays.filter(null)).toBeNull();
  });

  it('in disabled mode accepts none', () => {
    expect(new RelayPolicy('disabled').filter('https://euc1-1.relay.n0.iroh.link./')).toBeNull();
  });

  it('normalizes only http(s) URLs', () => {
    expect(normalizeRelayUrl('ftp://x/')).toBeNull();
    expect(normalizeRelayUrl('not a url')).toBeNull();
  });
});
