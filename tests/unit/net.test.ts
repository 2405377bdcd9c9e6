import * as fc from "fast-check";
import { cidrContains, cidrSize, formatIpv4, isCidr, memberPrivateIp, parseIpv4, parseIpv4Cidr } from "../../components/etcd-cluster/net";
import { resolveArgs } from "../../components/etcd-cluster/plan";
import { EtcdClusterArgsError } from "../../components/etcd-cluster/validate";

describe("IPv4 parsing", () => {
    it("round-trips addresses", () => {
        for (const a of ["0.0.0.0", "10.1.1.11", "255.255.255.255", "192.168.0.1"]) {
            expect(formatIpv4(parseIpv4(a)!)).toBe(a);
        }
    });
    it.each(["10.1.1", "256.1.1.1", "10.01.1.1", "a.b.c.d", "10.1.1.1.1", ""])("rejects %p", (a) => {
        expect(parseIpv4(a)).toBeUndefined();
    });
    it("parses CIDRs and refuses host bits", () => {
        expect(parseIpv4Cidr("10.1.0.0/16")).toEqual({ network: parseIpv4("10.1.0.0"), prefix: 16 });
        expect(parseIpv4Cidr("10.1.1.5/24")).toBeUndefined();
        expect(parseIpv4Cidr("10.1.0.0/33")).toBeUndefined();
        expect(parseIpv4Cidr("10.1.0.0")).toBeUndefined();
    });
    it("refuses a CIDR with a second slash or a prefix that is not plain digits", () => {
        expect(parseIpv4Cidr("10.1.0.0/16/8")).toBeUndefined();
        expect(parseIpv4Cidr("10.0.0.0/+8")).toBeUndefined(); // Number("+8") is 8
        expect(parseIpv4Cidr("10.0.0.0/ 8")).toBeUndefined();
    });
    it("accepts IPv6 CIDRs in firewall lists", () => {
        expect(isCidr("::/0")).toBe(true);
        expect(isCidr("2001:db8::/32")).toBe(true);
        expect(isCidr("2001:db8::1::/32")).toBe(false);
        expect(isCidr("fe80::/129")).toBe(false);
    });
    it.each([
        ["::1/128", true],                     // the longest prefix
        ["2001:db8:0:0:0:0:0:1/128", true],    // eight groups, no "::"
        ["1:2:3:4:5:6:7::/128", true],         // "::" standing for one group
        ["2001:db8:0:0:0:0:1/128", false],     // seven groups without "::"
        ["1:2:3:4:5:6:7:8::/128", false],      // eight groups and a "::"
        ["2001:db8::12345/64", false],         // a group of five digits
        ["g::/16", false],                     // not hex
        ["::g/16", false],
        ["::/x12", false],                     // prefixes: digits only
        ["::/12x", false],
        ["2001:db8::/32/1", false],
    ])("IPv6 %p is a CIDR: %p", (text, ok) => {
        expect(isCidr(text)).toBe(ok);
    });
});

describe("containment", () => {
    const c = (s: string) => parseIpv4Cidr(s)!;
    it("subnet inside network", () => expect(cidrContains(c("10.1.0.0/16"), c("10.1.1.0/24"))).toBe(true));
    it("subnet outside network", () => expect(cidrContains(c("10.1.0.0/16"), c("10.2.1.0/24"))).toBe(false));
    it("larger range is not inside a smaller one", () => expect(cidrContains(c("10.1.1.0/24"), c("10.1.0.0/16"))).toBe(false));
    it("equal ranges contain each other", () => expect(cidrContains(c("10.1.1.0/24"), c("10.1.1.0/24"))).toBe(true));
    it("a range before the network is not inside it", () => expect(cidrContains(c("10.1.0.0/16"), c("10.0.0.0/24"))).toBe(false));
});

describe("member address plan", () => {
    const subnet = parseIpv4Cidr("10.1.1.0/24")!;
    it("is unique, inside the subnet and stable when the member count grows", () => {
        const three = [1, 2, 3].map((k) => memberPrivateIp(subnet, 10, k));
        const five = [1, 2, 3, 4, 5].map((k) => memberPrivateIp(subnet, 10, k));
        expect(three).toEqual(["10.1.1.11", "10.1.1.12", "10.1.1.13"]);
        expect(five.slice(0, 3)).toEqual(three);
        expect(new Set(five).size).toBe(5);
        for (const ip of five) expect(cidrContains(subnet, parseIpv4Cidr(`${ip}/32`)!)).toBe(true);
    });
});

describe("address planning, for any input (fast-check)", () => {
    const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    /** An aligned IPv4 subnet with a prefix Hetzner accepts for a cloud subnet. */
    const subnetArb = fc.tuple(u32, fc.integer({ min: 8, max: 30 })).map(([addr, prefix]) => {
        const size = 2 ** (32 - prefix);
        return { network: addr - (addr % size), prefix };
    });

    it("formats and parses every address back to itself", () => {
        fc.assert(fc.property(u32, (n) => parseIpv4(formatIpv4(n)) === n));
    });

    it("accepts a CIDR exactly when it has no host bits", () => {
        fc.assert(fc.property(u32, fc.integer({ min: 0, max: 32 }), (addr, prefix) => {
            const parsed = parseIpv4Cidr(`${formatIpv4(addr)}/${prefix}`);
            const aligned = addr % 2 ** (32 - prefix) === 0;
            expect(parsed).toEqual(aligned ? { network: addr, prefix } : undefined);
        }));
    });

    it("gives members distinct addresses inside the subnet, never its network, gateway or broadcast address, stable as the count grows", () => {
        fc.assert(fc.property(subnetArb, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 9 }), (subnet, offset, count) => {
            fc.pre(offset + count < cidrSize(subnet) - 1); // the rule resolveArgs enforces
            const ips = Array.from({ length: count }, (_, i) => memberPrivateIp(subnet, offset, i + 1));
            expect(new Set(ips).size).toBe(count);
            for (const ip of ips) {
                const n = parseIpv4(ip)!;
                expect(cidrContains(subnet, { network: n, prefix: 32 })).toBe(true);
                expect(n).toBeGreaterThanOrEqual(subnet.network + 2); // not the network address, not Hetzner's gateway (+1)
                expect(n).toBeLessThan(subnet.network + cidrSize(subnet) - 1);
            }
            expect(ips.slice(0, count - 1)).toEqual(Array.from({ length: count - 1 }, (_, i) => memberPrivateIp(subnet, offset, i + 1)));
        }));
    });

    it("resolveArgs either refuses the subnet with a message naming it, or plans addresses inside it", () => {
        fc.assert(fc.property(subnetArb, fc.integer({ min: 1, max: 300 }), fc.constantFrom(1, 3, 5, 7, 9), (subnet, offset, memberCount) => {
            const subnetCidr = `${formatIpv4(subnet.network)}/${subnet.prefix}`;
            const networkCidr = `${formatIpv4(subnet.network - (subnet.network % 2 ** 24))}/8`; // the /8 around it
            let plan;
            try {
                plan = resolveArgs("etcd", { memberCount, hcloud: { networkCidr, subnetCidr, privateIpOffset: offset, sshAllowedCidrs: ["203.0.113.0/24"] } });
            } catch (e) {
                expect(e).toBeInstanceOf(EtcdClusterArgsError);
                expect((e as Error).message).toContain(`hcloud.subnetCidr ${subnetCidr} has too few addresses`);
                expect(offset + memberCount).toBeGreaterThanOrEqual(cidrSize(subnet) - 1);
                return;
            }
            expect(plan.hosts.kind).toBe("hcloud");
            const ips = plan.hosts.kind === "hcloud" ? plan.hosts.privateIps : [];
            expect(ips).toHaveLength(memberCount);
            for (const ip of ips) expect(cidrContains(subnet, parseIpv4Cidr(`${ip}/32`)!)).toBe(true);
        }));
    });
});
