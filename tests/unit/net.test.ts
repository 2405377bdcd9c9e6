import { cidrContains, formatIpv4, isCidr, memberPrivateIp, parseIpv4, parseIpv4Cidr } from "../../components/etcd-cluster/net";

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
    it("accepts IPv6 CIDRs in firewall lists", () => {
        expect(isCidr("::/0")).toBe(true);
        expect(isCidr("2001:db8::/32")).toBe(true);
        expect(isCidr("2001:db8::1::/32")).toBe(false);
        expect(isCidr("fe80::/129")).toBe(false);
    });
});

describe("containment", () => {
    const c = (s: string) => parseIpv4Cidr(s)!;
    it("subnet inside network", () => expect(cidrContains(c("10.1.0.0/16"), c("10.1.1.0/24"))).toBe(true));
    it("subnet outside network", () => expect(cidrContains(c("10.1.0.0/16"), c("10.2.1.0/24"))).toBe(false));
    it("larger range is not inside a smaller one", () => expect(cidrContains(c("10.1.1.0/24"), c("10.1.0.0/16"))).toBe(false));
    it("equal ranges contain each other", () => expect(cidrContains(c("10.1.1.0/24"), c("10.1.1.0/24"))).toBe(true));
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
