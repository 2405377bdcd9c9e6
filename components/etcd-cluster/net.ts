// IPv4/IPv6 address and CIDR helpers for the address plan. Pure functions, no Pulumi.

/** A parsed IPv4 CIDR: the network address as a 32-bit unsigned integer and the prefix length. */
export interface Ipv4Cidr {
    readonly network: number;
    readonly prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted-quad IPv4 address; returns undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
    const m = IPV4.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1).map(Number);
    if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return undefined;
    return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export function formatIpv4(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/p`; the address must be the network address (no host bits), as Hetzner requires. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
    const [addr, prefixText, ...rest] = text.split("/");
    if (rest.length > 0 || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined;
    const prefix = Number(prefixText);
    const network = parseIpv4(addr);
    if (network === undefined || prefix > 32) return undefined;
    if (network % 2 ** (32 - prefix) !== 0) return undefined;
    return { network, prefix };
}

export function cidrSize(c: Ipv4Cidr): number {
    return 2 ** (32 - c.prefix);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return inner.prefix >= outer.prefix && inner.network >= outer.network &&
        inner.network + cidrSize(inner) <= outer.network + cidrSize(outer);
}

/** Loose IPv6 CIDR check (hex groups, at most one `::`, prefix 0-128), enough to catch typos in firewall rules. */
export function isIpv6Cidr(text: string): boolean {
    const [addr, prefix, ...rest] = text.split("/");
    if (rest.length > 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix) || Number(prefix) > 128) return false;
    if (!/^[0-9a-fA-F:]+$/.test(addr) || (addr.match(/::/g) ?? []).length > 1) return false;
    const groups = addr.split(":").filter((g) => g !== "");
    return groups.every((g) => g.length <= 4) && (addr.includes("::") ? groups.length < 8 : groups.length === 8);
}

/** True when the text is an IPv4 or IPv6 CIDR, e.g. `0.0.0.0/0`, `10.0.0.0/8`, `::/0`. */
export function isCidr(text: string): boolean {
    return parseIpv4Cidr(text) !== undefined || isIpv6Cidr(text);
}

/**
 * The private address of member `index` (0-based): the subnet's network address + `offset` + index.
 * Addresses derive from the member's index, never from what the provider hands out, so they are stable
 * when the member count grows.
 */
export function memberPrivateIp(subnet: Ipv4Cidr, offset: number, index: number): string {
    return formatIpv4(subnet.network + offset + index);
}
