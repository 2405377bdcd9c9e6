// What etcd itself says about its membership while an operation runs: a bounded loop beside `pulumi up` asks
// the members that stay for `member list` and `endpoint status` every 200 ms. Tests judge scaling by these
// samples (who was a learner, when, and who led) rather than by the component's own log lines.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ClientFiles, parseWithIds } from "../../lab/rig";

export interface MembershipSample {
    /** Seconds since the epoch. */
    t: number;
    /** Members with their learner flag; `name` is empty for a member added but not started yet. */
    members: { name: string; id: string; peerURLs: string[]; isLearner: boolean }[];
    /** Name of the member that leads (by the status of the first endpoint that answered), or "". */
    leader: string;
}

export class MembershipSampler {
    private readonly child: ChildProcess;
    private readonly exited: Promise<number | null>;
    private readonly out: string;
    private readonly stopFile: string;

    constructor(etcdctl: string, endpoints: string[], creds: ClientFiles, workDir: string, limits = { maxSamples: 3000, maxSeconds: 900 }) {
        this.out = path.join(workDir, `membership-${Date.now()}.jsonl`);
        this.stopFile = `${this.out}.stop`;
        const script = `set -u
end=$((SECONDS + MAX_SECONDS)); n=0
ctl() { "$ETCDCTL" --endpoints="$ENDPOINTS" --cacert="$CA" --cert="$CERT" --key="$KEY" --dial-timeout=1s --command-timeout=2s "$@" -w json 2>/dev/null; }
while [ ! -e "$STOP" ] && [ "$SECONDS" -lt "$end" ] && [ "$n" -lt "$MAX_SAMPLES" ]; do
  t=$(date +%s.%N)
  list=$(ctl member list) || list=null
  status=$(ctl endpoint status) || status=null
  printf '{"t":%s,"list":%s,"status":%s}\\n' "$t" "\${list:-null}" "\${status:-null}" >>"$OUT"
  n=$((n + 1))
  sleep 0.2
done`;
        this.child = spawn("bash", ["-c", script], {
            stdio: "ignore",
            env: {
                ...process.env, ETCDCTL: etcdctl, ENDPOINTS: endpoints.join(","), CA: creds.ca, CERT: creds.cert, KEY: creds.key,
                OUT: this.out, STOP: this.stopFile, MAX_SECONDS: String(limits.maxSeconds), MAX_SAMPLES: String(limits.maxSamples),
            },
        });
        this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    }

    /** Stops the loop and returns the samples in which etcd answered. */
    async stop(): Promise<MembershipSample[]> {
        fs.writeFileSync(this.stopFile, "");
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
        await this.exited.finally(() => clearTimeout(timer));
        const lines = fs.existsSync(this.out) ? fs.readFileSync(this.out, "utf8").split("\n").filter(Boolean) : [];
        const samples: MembershipSample[] = [];
        for (const line of lines) {
            const raw = parseWithIds(line);
            if (!raw.list?.members) continue;
            const members = raw.list.members.map((m: any) => ({ name: m.name ?? "", id: String(m.ID), peerURLs: m.peerURLs ?? [], isLearner: m.isLearner === true }));
            const leaderId = Array.isArray(raw.status) ? raw.status.find((s: any) => s?.Status?.leader)?.Status.leader : undefined;
            samples.push({ t: raw.t, members, leader: members.find((m: any) => m.id === String(leaderId))?.name ?? "" });
        }
        if (samples.length === 0) throw new Error(`membership sampler: no answer from etcd in ${lines.length} samples`);
        return samples;
    }
}
