// User data for a new Hetzner server: installs the SSH host key the component generated for it, so every
// connection can pin that key from the first one. A script rather than cloud-config's `ssh_keys`: every
// boot path runs a user-data script (cloud-init's final stage, and the local stand-in's hosts). Until it has
// run, the server shows a key of its own, which the pinned connection refuses and retries.

export interface HostKeyUserDataInput {
    /** OpenSSH private key (ED25519). Secret: the caller keeps the result secret. */
    privateKeyOpenssh: string;
    /** `ssh-ed25519 AAAA…` */
    publicKeyOpenssh: string;
}

export function hostKeyUserData(input: HostKeyUserDataInput): string {
    const privateKey = input.privateKeyOpenssh.trimEnd();
    const publicKey = input.publicKeyOpenssh.trim();
    if (!privateKey.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n") || !privateKey.endsWith("\n-----END OPENSSH PRIVATE KEY-----")
        || privateKey.split("\n").includes("KEY")) {
        throw new Error("hostKeyUserData: the private key is not an OpenSSH private key");
    }
    if (!/^ssh-ed25519 [A-Za-z0-9+/=]+$/.test(publicKey)) throw new Error("hostKeyUserData: the public key is not an ssh-ed25519 key");
    return `#!/bin/bash
# Written by the EtcdCluster Pulumi component: the SSH host key its connections pin.
set -euo pipefail
umask 077
key=/etc/ssh/ssh_host_ed25519_key
cat >"$key.new" <<'KEY'
${privateKey}
KEY
printf '%s\\n' '${publicKey}' >"$key.pub.new"
chmod 600 "$key.new"
chmod 644 "$key.pub.new"
mv -f "$key.new" "$key"
mv -f "$key.pub.new" "$key.pub"
# sshd reads its host keys when it starts.
systemctl restart ssh.service 2>/dev/null || systemctl restart sshd.service
`;
}
