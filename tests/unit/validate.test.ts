// Edges of the input checks in validate.ts that the argument tests (args.test.ts) left open: each case here
// came from a mutant Stryker found alive (npm run mutate), and fails with that mutant in place.
import {
    clientCrlPem, encryptionPassphrase, hostPath, locationFailureRisk, resolveBackup, resolveExisting, resolveHcloud,
    resolveMaintenance, resolveMembers, resolvePki, resolveRelease, resolveTuning, s3AccessKeyId,
} from "../../components/etcd-cluster/validate";
import { BackupArgs, ExistingHostArgs, HcloudHostsArgs } from "../../components/etcd-cluster/args";

const ssh = { sshAllowedCidrs: ["203.0.113.0/24"] };
const hcloud = (args: Partial<HcloudHostsArgs>, members = 3) => () => resolveHcloud({ ...ssh, ...args } as HcloudHostsArgs, members, undefined);
const s3 = { endpoint: "https://s3.example.com", bucket: "etcd-backups", accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret" };
const backup = (more: Partial<NonNullable<BackupArgs["s3"]>>, args: Partial<BackupArgs> = {}) => resolveBackup("etcd", { ...args, s3: { ...s3, ...more } } as BackupArgs);

describe("host paths", () => {
    it("refuses '..' and '.' parts", () => {
        expect(() => hostPath("dataDir", "/var/lib/etcd/../../etc")).toThrow('dataDir "/var/lib/etcd/../../etc" must be an absolute path');
        expect(() => hostPath("dataDir", "/var/./lib/etcd")).toThrow('dataDir "/var/./lib/etcd" must be an absolute path');
        expect(hostPath("dataDir", "/srv/etcd.data")).toBe("/srv/etcd.data");
    });

    it("suggests a directory of its own beside the system one", () => {
        expect(() => hostPath("snapshotDir", "/var/backups")).toThrow('Use a directory of its own, e.g. "/var/backups/etcd".');
        expect(() => hostPath("dataDir", "/var/lib")).toThrow('Use a directory of its own, e.g. "/var/lib/etcd".');
    });
});

describe("member names", () => {
    const hosts = (...names: string[]): ExistingHostArgs[] => names.map((name, i) => ({ privateIp: `10.0.0.${i + 1}`, name }));

    it("refuses a host name that is not a DNS label, and a name used twice", () => {
        expect(() => resolveMembers("etcd", undefined, hosts("a", "Node_2", "c"))).toThrow('member name "Node_2" must be a DNS label');
        expect(() => resolveMembers("etcd", undefined, hosts("a", "b", "a"))).toThrow('member name "a" is used twice; member names must be unique.');
        expect(resolveMembers("etcd", undefined, hosts("a", "b", "c")).map((m) => m.name)).toEqual(["a", "b", "c"]);
    });
});

describe("tuning", () => {
    it("names the field that is not a positive whole number", () => {
        expect(() => resolveTuning({ heartbeatIntervalMs: 0 })).toThrow("tuning.heartbeatIntervalMs");
        expect(() => resolveTuning({ electionTimeoutMs: 1.5 })).toThrow("tuning.electionTimeoutMs");
    });

    it("accepts an election timeout of exactly 5 heartbeats, as etcd does", () => {
        expect(resolveTuning({ heartbeatIntervalMs: 100, electionTimeoutMs: 500 }).electionTimeoutMs).toBe(500);
        expect(() => resolveTuning({ heartbeatIntervalMs: 100, electionTimeoutMs: 499 })).toThrow("must be at least 5 x tuning.heartbeatIntervalMs (100)");
    });

    it("refuses an unknown compaction mode; a revision count in revision mode", () => {
        expect(() => resolveTuning({ autoCompactionMode: "hourly" as never })).toThrow('tuning.autoCompactionMode must be "periodic" or "revision" (got "hourly")');
        expect(resolveTuning({ autoCompactionMode: "revision", autoCompactionRetention: "10000" }).autoCompactionRetention).toBe("10000");
        expect(() => resolveTuning({ autoCompactionMode: "revision", autoCompactionRetention: "1h" })).toThrow('tuning.autoCompactionRetention "1h"');
    });
});

describe("PKI", () => {
    it("quotes at most 40 characters of text that is not a CRL", () => {
        expect(() => clientCrlPem("x".repeat(100))).toThrow(`got text starting with "${"x".repeat(40)}".`);
    });

    it("refuses a CA slot that is not a or b, and one listed twice", () => {
        expect(() => resolvePki({ trustedCas: ["a", "c" as never] })).toThrow('pki.trustedCas must be "a", "b" or both, each once (got ["a","c"])');
        expect(() => resolvePki({ trustedCas: ["a", "a"] })).toThrow('(got ["a","a"])');
    });

    it("refuses an early renewal that is negative or not whole", () => {
        expect(() => resolvePki({ earlyRenewalHours: -1 })).toThrow("pki.earlyRenewalHours (-1) must be a whole number");
        expect(() => resolvePki({ earlyRenewalHours: 1.5 })).toThrow("pki.earlyRenewalHours (1.5) must be a whole number");
        expect(resolvePki({ earlyRenewalHours: 0 }).earlyRenewalHours).toBe(0);
    });

    it("takes IPv6 addresses and names with digits as extra SANs; refuses a digits-and-dots name that is no address", () => {
        expect(resolvePki({ extraSans: ["2001:db8::1", "node1", "1node.example.com"] }).extraSans).toEqual(["2001:db8::1", "node1", "1node.example.com"]);
        expect(() => resolvePki({ extraSans: ["2001:db8::zz"] })).toThrow('pki.extraSans contains "2001:db8::zz"');
        expect(() => resolvePki({ extraSans: ["10.0.0.999"] })).toThrow('pki.extraSans contains "10.0.0.999"');
    });
});

describe("schedules", () => {
    it("refuses blanks around an expression; an empty one means no timer where that is allowed", () => {
        expect(() => resolveBackup("etcd", { schedule: " hourly" })).toThrow('backup.schedule " hourly" is not a systemd OnCalendar expression like "hourly", "daily" or "*-*-* 02:30:00" (or "" for no timer).');
        expect(resolveBackup("etcd", { schedule: "" }).schedule).toBe("");
        expect(() => resolveMaintenance({ defragSchedule: "every day!" })).toThrow('maintenance.defragSchedule "every day!"');
        expect(() => resolveMaintenance({ alarmCheckSchedule: "" })).toThrow(/maintenance.alarmCheckSchedule "" is not a systemd OnCalendar expression like .*00"\.$/);
    });
});

describe("S3 backups", () => {
    it("the endpoint: trailing slashes dropped, a port kept, none at all refused", () => {
        expect(backup({ endpoint: "https://s3.example.com//" }).s3?.endpoint).toBe("https://s3.example.com");
        expect(backup({ endpoint: "https://minio.lan:9000" }).s3?.endpoint).toBe("https://minio.lan:9000");
        expect(() => backup({ endpoint: undefined })).toThrow('backup.s3.endpoint "undefined" must be an http(s) URL');
        expect(() => backup({ endpoint: "http://minio.lan:9000" })).toThrow("Use https, or set backup.s3.allowHttp: true for a store on a network you trust.");
    });

    it("the endpoint is a host and a port, nothing else", () => {
        expect(backup({ endpoint: "https://[fd00::5]:9000" }).s3?.endpoint).toBe("https://[fd00::5]:9000");
        for (const endpoint of ["https://a:b:c", "https://minio.lan:99999", "https://minio.lan:", "https://:9000", "https://user@minio.lan",
            "https://minio.lan?x=1", "https://minio.lan/bucket", "https://%41", "ftp://minio.lan", "https://"]) {
            expect(() => backup({ endpoint })).toThrow(`backup.s3.endpoint "${endpoint}" must be an http(s) URL of a host (and port), without a path`);
        }
    });

    it("the bucket, the region and the prefix", () => {
        expect(() => backup({ bucket: undefined })).toThrow('backup.s3.bucket "undefined" is not an S3 bucket name');
        expect(() => backup({ region: "us-east-1 " })).toThrow('backup.s3.region "us-east-1 "');
        expect(() => backup({ prefix: "etcd/../other/" })).toThrow('backup.s3.prefix "etcd/../other/"');
        expect(backup({ prefix: `${"p".repeat(199)}/` }).s3?.prefix).toHaveLength(200);
        expect(() => backup({ prefix: `${"p".repeat(200)}/` })).toThrow("backup.s3.prefix");
    });

    it("both keys are required, each on its own", () => {
        expect(() => backup({ accessKeyId: undefined })).toThrow("backup.s3 needs accessKeyId and secretAccessKey");
        expect(() => backup({ secretAccessKey: undefined })).toThrow("backup.s3 needs accessKeyId and secretAccessKey");
    });

    it("a prefix without a trailing '/' is refused only with client-side encryption, and \"\" is fine with it", () => {
        expect(backup({ prefix: "etcd-" }).s3?.prefix).toBe("etcd-");
        expect(backup({ prefix: "", encryptionPassphrase: "a".repeat(16) }).s3?.prefix).toBe("");
        expect(() => backup({ prefix: "etcd-", encryptionPassphrase: "a".repeat(16) })).toThrow("must end with '/'");
    });

    it("resolves only the optional settings that were given", () => {
        // toStrictEqual: a key present with the value undefined differs from a key left out.
        expect(backup({}).s3).toStrictEqual({ ...s3, region: "us-east-1", prefix: "etcd/" });
        expect(backup({ serverSideEncryption: "AES256", uploadCutoffMiB: 64 }).s3).toStrictEqual({ ...s3, region: "us-east-1", prefix: "etcd/", serverSideEncryption: "AES256", uploadCutoffMiB: 64 });
    });

    it("a passphrase of 16 characters is long enough; an access key id with a blank at either end is not an id", () => {
        expect(encryptionPassphrase("p".repeat(16))).toHaveLength(16);
        expect(() => encryptionPassphrase("p".repeat(15))).toThrow("is 15 characters long; use at least 16");
        expect(() => s3AccessKeyId(" AKIAEXAMPLE")).toThrow("Check that the secret holds the key id alone.");
        expect(() => s3AccessKeyId("AKIAEXAMPLE ")).toThrow("backup.s3.accessKeyId contains a quote, a backslash, a space");
    });
});

describe("release", () => {
    it("hides credentials in the URL it quotes and says where they would show", () => {
        expect(() => resolveRelease({ downloadBaseUrl: "https://user:pw@mirror.example.com" }))
            .toThrow('release.downloadBaseUrl "https://***@mirror.example.com" carries credentials: they would be stored in the state and shown in the hosts\' process lists.');
    });
});

describe("Hetzner locations and servers", () => {
    it("says which to give when both location and locations are set", () => {
        expect(hcloud({ location: "ash", locations: ["ash"] })).toThrow("give one: location for a single location, locations to spread the members over several.");
    });

    it("suggests the zone's own locations, and none for a zone it knows no location of", () => {
        expect(hcloud({ location: "fsn1", networkZone: "us-east" })).toThrow('Set networkZone: "eu-central" (or use locations of us-east: ash).');
        expect(hcloud({ location: "fsn1", networkZone: "sa-east" })).toThrow(/Set networkZone: "eu-central"\.$/);
    });

    it("names the zones a server family is offered in", () => {
        expect(hcloud({ location: "ash", serverType: "cx22" })).toThrow("Hetzner offers cx servers only in eu-central. Use a type offered there, e.g. cpx11 or ccx13.");
    });

    it("finds the location whose loss costs the majority wherever it is listed", () => {
        expect(locationFailureRisk(["nbg1", "fsn1", "fsn1"])).toContain("losing fsn1 leaves 1 of 3, below the majority of 2");
        expect(locationFailureRisk(["fsn1", "nbg1", "hel1"])).toBeUndefined();
    });

    it("refuses a zone that is not one, an empty image and an offset below 1", () => {
        expect(hcloud({ networkZone: "useast" })).toThrow('hcloud.networkZone "useast" does not look like a network zone (e.g. us-east, eu-central).');
        expect(hcloud({ image: " " })).toThrow("hcloud.image must not be empty (e.g. ubuntu-22.04).");
        expect(hcloud({ privateIpOffset: 0 })).toThrow("hcloud.privateIpOffset must be a whole number >= 1 (got 0).");
    });

    it("says how to spread members when location failure tolerance is required", () => {
        expect(hcloud({ locations: ["fsn1", "nbg1"], networkZone: "eu-central", requireLocationFailureTolerance: true }))
            .toThrow("3 or more locations, e.g. 3 members over 3 locations, 5 over 3 or more.");
    });

    it("refuses label keys and values with characters outside Hetzner's set at either end", () => {
        expect(hcloud({ labels: { "!team": "a" } })).toThrow('hcloud.labels entry "!team=a"');
        expect(hcloud({ labels: { team: "!a" } })).toThrow('hcloud.labels entry "team=!a"');
        expect(hcloud({ labels: { team: "a!" } })).toThrow('hcloud.labels entry "team=a!"');
        expect(hcloud({ labels: { "example.com/team": "a-b" } })().labels).toEqual({ "example.com/team": "a-b" });
    });
});

describe("existing hosts", () => {
    it("a null private address is missing too", () => {
        const members = [{ index: 0, name: "etcd-1" }];
        expect(() => resolveExisting([{ privateIp: null as never }], members, "key")).toThrow("existingHosts[0].privateIp is missing");
    });
});
