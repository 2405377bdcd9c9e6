// The maintenance Commands under Pulumi mocks: one per member, each after that member's configure step; the
// S3 settings travel as a secret on stdin and never in the script text.
import * as pulumi from "@pulumi/pulumi";

import { OptionsCapture, promiseOf, recordingMocks, unwrapSecret, settled } from "../helpers/mocks";

const created = recordingMocks();

import { EtcdCluster } from "../../components/etcd-cluster";

const unwrap = unwrapSecret;
const options = new OptionsCapture();
const capture = options.transformation;
const depNames = (name: string) => options.dependencyNames(name);
const commands = () => created.filter((c) => c.type === "command:remote:Command");
const settle = async (cluster: EtcdCluster) => { await promiseOf(cluster.clusterCheck); await settled(); };

const hosts = [{ privateIp: "10.9.0.11" }, { privateIp: "10.9.0.12" }, { privateIp: "10.9.0.13" }];
const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

beforeEach(() => { created.length = 0; options.clear(); });

describe("maintenance on every member", () => {
    it("one Command per member, after that member's configure step, with timers at the defaults and no S3", async () => {
        await settle(new EtcdCluster("local", { existingHosts: hosts, sshPrivateKey: pulumi.secret("key") }, { transformations: [capture] }));
        const maintenance = commands().filter((c) => c.name.endsWith("-maintenance"));
        expect(maintenance.map((c) => c.name)).toEqual(["local-local-1-maintenance", "local-local-2-maintenance", "local-local-3-maintenance"]);
        for (let i = 1; i <= 3; i++) expect(await depNames(`local-local-${i}-maintenance`)).toEqual([`local-local-${i}-configure`]);
        const create = maintenance[1].inputs.create as string;
        expect(create).toContain("readonly MEMBER='local-2'");
        expect(create).toContain("OnCalendar=hourly");
        expect(create).toContain("OnCalendar=weekly");
        expect(create).toContain("readonly CONFIGURED_QUOTA=2147483648");
        expect(create).toContain("readonly S3_UPLOADS=0");
        expect(maintenance[1].inputs.stdin).toBeUndefined();
        expect(maintenance[1].inputs.delete).toContain("snapshots are kept");
    });

    it("S3 settings go as a secret on stdin; the script text carries none of them", async () => {
        await settle(new EtcdCluster("local", {
            existingHosts: hosts, sshPrivateKey: pulumi.secret("key"), snapshotDir: "/srv/etcd-snapshots",
            tuning: { quotaBackendBytes: 16 * 1024 ** 2 },
            backup: { schedule: "*:0/15", keep: 5, s3: { endpoint: "https://s3.example.com", bucket: "etcd-backups", accessKeyId: pulumi.secret("AKIDEXAMPLE"), secretAccessKey: pulumi.secret(secretKey) } },
            maintenance: { defragSchedule: "", quotaWarnPercent: 70 },
        }));
        const maintenance = commands().filter((c) => c.name.endsWith("-maintenance"));
        expect(maintenance.map((c) => c.name)).toHaveLength(hosts.length); // one per member: the loop below checks something
        for (const c of maintenance) {
            const stdin = unwrap(c.inputs.stdin);
            expect(stdin.secret).toBe(true);
            expect(stdin.value).toContain("RCLONE_CONFIG_ETCDS3_ENDPOINT=https://s3.example.com\nRCLONE_CONFIG_ETCDS3_REGION=us-east-1\n");
            expect(stdin.value).toContain(`RCLONE_CONFIG_ETCDS3_ACCESS_KEY_ID=AKIDEXAMPLE\nRCLONE_CONFIG_ETCDS3_SECRET_ACCESS_KEY=${secretKey}\n`);
            expect(stdin.value).toContain("ETCD_BACKUP_REMOTE=etcds3:etcd-backups/local/\n");
            const create = c.inputs.create as string;
            for (const s of [secretKey, "AKIDEXAMPLE", "etcd-backups", "s3.example.com"]) expect(create).not.toContain(s);
            expect(create).toContain("readonly S3_UPLOADS=1");
            expect(create).toContain("OnCalendar=*:0/15");
            expect(create).toContain("readonly KEEP=5");
            expect(create).toContain("ReadWritePaths=/srv/etcd-snapshots");
            expect(create).toContain("readonly CONFIGURED_QUOTA=16777216");
            expect(create).toContain("readonly WARN_PERCENT=70");
            expect(create).toContain("readonly WANTED_TIMERS=('etcd-alarm-check.timer' 'etcd-backup.timer')"); // no scheduled defragmentation
        }
    });
});
