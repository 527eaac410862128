/**
 * The command line of one `raftlock serve` member. Every launcher of a local
 * cluster (the tests, the verify harness, `raftlock cluster`) builds it here,
 * so a new serve flag reaches all of them at once.
 */

/** ServeMember is one member as the serve command line names it. */
export interface ServeMember {
  readonly id: string;
  /** The host both listeners bind (127.0.0.1 in tests and the harness). */
  readonly host: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

/** ServeArgsOptions say how one member reaches the others. */
export interface ServeArgsOptions {
  /** The peer address `from` dials to reach `to` (a proxy's, to inject faults). */
  readonly peerAddress: (from: string, to: ServeMember) => string;
  /** The HTTP URL `from` forwards to when `to` leads. */
  readonly peerHttpUrl: (from: string, to: ServeMember) => string;
  readonly logLevel: string;
  /** The member's peer-security flags (launch-security.ts); default none. */
  readonly securityArgs?: readonly string[];
  /**
   * For a member's first start in a new cluster: the cluster id all founding members share, passed with
   * `--initial-cluster-state new`. Absent for a restart, which finds its store and needs neither flag.
   */
  readonly bootstrapClusterId?: string;
  /** With bootstrapClusterId: the member joins that running cluster (`existing`) instead of founding it (`new`). */
  readonly joins?: boolean;
  /** Appended last, so they override the flags above. */
  readonly extraArgs: readonly string[];
}

/** directPeerAddress is `to`'s own peer listener: no proxy in between. */
export function directPeerAddress(_from: string, to: ServeMember): string {
  return `${to.host}:${to.peerPort}`;
}

/** HttpScheme is how members serve their API: `https` when they are given a certificate (--http-cert). */
export type HttpScheme = 'http' | 'https';

/** httpUrlOf is the URL of a member's HTTP listener. */
export function httpUrlOf(member: ServeMember, scheme: HttpScheme = 'http'): string {
  return `${scheme}://${member.host}:${member.httpPort}`;
}

/**
 * serveArgs is the flags after `raftlock serve` for `member` of `members`.
 * `--peer` is always explicit: a member that dials its peers through proxies
 * still listens on its own port.
 */
export function serveArgs(member: ServeMember, members: readonly ServeMember[], o: ServeArgsOptions): string[] {
  if (!members.includes(member)) throw new Error(`serveArgs: ${member.id} is not one of the members`);
  const peers = members.map((m) => `${m.id}=${o.peerAddress(member.id, m)}`).join(',');
  const peerHttp = members.map((m) => `${m.id}=${o.peerHttpUrl(member.id, m)}`).join(',');
  return [
    '--id', member.id, '--data-dir', member.dataDir, '--http', `${member.host}:${member.httpPort}`,
    '--peer', `${member.host}:${member.peerPort}`, '--peers', peers, '--peer-http', peerHttp, '--log-level', o.logLevel,
    ...(o.securityArgs ?? []),
    ...(o.bootstrapClusterId !== undefined ? ['--initial-cluster-state', o.joins === true ? 'existing' : 'new', '--cluster-id', o.bootstrapClusterId] : []),
    ...o.extraArgs,
  ];
}
