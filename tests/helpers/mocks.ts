// Pulumi mocks for the component tests: every registered resource is recorded (type, name, inputs), outputs
// echo the inputs plus plausible computed values, and any unmocked invoke fails loudly. Call
// recordingMocks() before the component is first used; `liveServers` is what getServers answers (a new stack:
// none), read at each call.
import * as pulumi from "@pulumi/pulumi";

export interface Created { type: string; name: string; inputs: Record<string, any>; id: string }

export function recordingMocks(liveServers: () => Record<string, unknown>[] = () => []): Created[] {
    const created: Created[] = [];
    pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            const outputs: Record<string, any> = { ...args.inputs };
            const n = created.length;
            if (args.type === "hcloud:index/server:Server") outputs.ipv4Address = `203.0.113.${n}`;
            if (args.type === "tls:index/privateKey:PrivateKey") {
                outputs.privateKeyPem = `-----BEGIN PRIVATE KEY-----\nmock-${args.name}\n-----END PRIVATE KEY-----\n`;
                outputs.privateKeyOpenssh = `-----BEGIN OPENSSH PRIVATE KEY-----\nmock-${args.name}\n-----END OPENSSH PRIVATE KEY-----\n`;
                outputs.publicKeyOpenssh = `ssh-ed25519 AAAA${n}`;
            }
            if (args.type === "tls:index/selfSignedCert:SelfSignedCert" || args.type === "tls:index/locallySignedCert:LocallySignedCert") {
                outputs.certPem = `-----BEGIN CERTIFICATE-----\n${args.name}\n-----END CERTIFICATE-----\n`;
            }
            if (args.type === "tls:index/certRequest:CertRequest") outputs.certRequestPem = `csr-${args.name}`;
            if (args.type === "random:index/randomId:RandomId") outputs.hex = "0123456789abcdef";
            if (args.type === "command:remote:Command") outputs.stdout = `ran ${args.name}`;
            // Hetzner ids are numbers (the component passes them on as such, e.g. a server's placementGroupId).
            const id = args.type.startsWith("hcloud:") ? String(1000 + n) : `${args.name}-id`;
            created.push({ type: args.type, name: args.name, inputs: args.inputs, id });
            return { id, state: outputs };
        },
        call(args: pulumi.runtime.MockCallArgs) {
            if (args.token === "hcloud:index/getServers:getServers") return { servers: liveServers() };
            throw new Error(`Mock not implemented: ${args.token}`);
        },
    }, "etcd-cluster", "test", false);
    return created;
}

/** The inputs of the one recorded resource of that type and name; fails when there is none, or more than one. */
export function inputsOfOne(created: Created[], type: string, name: string): Record<string, any> {
    const found = created.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`${found.length} ${type} named ${name}`);
    return found[0].inputs;
}

/**
 * Resolves once every registration the program has started has reached the mocks (the SDK's RPC queue is
 * drained), so `created` can be read. A fixed delay instead reads it too early on a busy machine, and a
 * check over the resources found then passes on whatever subset arrived. waitForRPCs is the SDK's own
 * (untyped) drain, the one it runs before disconnecting.
 */
export async function settled(): Promise<void> {
    const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
    if (typeof wait !== "function") throw new Error("@pulumi/pulumi no longer has runtime.waitForRPCs: find its replacement");
    await wait();
}

export function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

/** Secret inputs reach the mock wrapped in Pulumi's secret signature; unwrap them and say whether they were secret. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export function unwrapSecret(v: any): { secret: boolean; value: any } {
    return v && typeof v === "object" && SECRET_SIG in v ? { secret: true, value: v.value } : { secret: false, value: v };
}

/** Resource options of every child, captured through an (SDK-side) transformation: pass `transformation` to the component. */
export class OptionsCapture {
    readonly options = new Map<string, pulumi.ResourceOptions>();
    readonly transformation: pulumi.ResourceTransformation = (args) => {
        this.options.set(args.name, args.opts);
        return undefined;
    };

    /** The names of the resources a child depends on explicitly, in order. */
    async dependencyNames(name: string): Promise<string[]> {
        const given = this.options.get(name)?.dependsOn;
        // dependsOn may be an Output (decided at deploy time, e.g. a server that waits for its gate only when it rolls).
        const deps = pulumi.Output.isInstance(given) ? await promiseOf(given as pulumi.Output<unknown>) : given;
        const list = (deps === undefined ? [] : Array.isArray(deps) ? deps : [deps]) as pulumi.Resource[];
        const urns = await Promise.all(list.map((r) => promiseOf(r.urn)));
        return urns.map((u) => u.split("::").pop()!);
    }

    clear(): void {
        this.options.clear();
    }
}
