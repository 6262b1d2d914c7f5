/**
 * The sandbox options of spawn (docs/sandbox.md): namespaces with their id maps, hostname,
 * chroot, capabilities and no_new_privs, validated into the native request (sandboxRequest). The
 * child applies them in native code (native/spawn_sandbox.cc), in the order the step table of
 * native/spawn_child.h gives.
 */
import { invalidArgType, invalidArgValue, outOfRange } from '../errors';
import { validateBytes, type Bytes } from '../env';
import { binding, type RawSpawnRequest } from '../native';
import { isOwnKey, validateArray, validateBoolean, validateInteger } from '../validate';

/**
 * A namespace the child gets a new one of (clone(2) `CLONE_NEW*`): `'user'` (user_namespaces(7)),
 * `'pid'`, `'net'`, `'mount'`, `'uts'`, `'ipc'`, `'cgroup'`, `'time'`.
 */
export type NamespaceName = 'user' | 'pid' | 'net' | 'mount' | 'uts' | 'ipc' | 'cgroup' | 'time';

/** One line of a uid or gid map (user_namespaces(7)): ids `inside..inside+count-1` are `outside..` outside. */
export interface IdMapEntry {
  /** The first id inside the child's user namespace. */
  readonly inside: number;
  /** The id it stands for in this process's user namespace. */
  readonly outside: number;
  /** How many consecutive ids the line maps (at least 1). */
  readonly count: number;
}

/** The capabilities(7) of Linux 6.x, by their name without `CAP_`, in lower case. */
export type CapabilityShortName =
  | 'chown' | 'dac_override' | 'dac_read_search' | 'fowner' | 'fsetid' | 'kill' | 'setgid'
  | 'setuid' | 'setpcap' | 'linux_immutable' | 'net_bind_service' | 'net_broadcast' | 'net_admin'
  | 'net_raw' | 'ipc_lock' | 'ipc_owner' | 'sys_module' | 'sys_rawio' | 'sys_chroot' | 'sys_ptrace'
  | 'sys_pacct' | 'sys_admin' | 'sys_boot' | 'sys_nice' | 'sys_resource' | 'sys_time'
  | 'sys_tty_config' | 'mknod' | 'lease' | 'audit_write' | 'audit_control' | 'setfcap'
  | 'mac_override' | 'mac_admin' | 'syslog' | 'wake_alarm' | 'block_suspend' | 'audit_read'
  | 'perfmon' | 'bpf' | 'checkpoint_restore';

/** A capability: `'CAP_NET_BIND_SERVICE'` or `'net_bind_service'` (any case). */
export type CapabilityName = CapabilityShortName | `CAP_${Uppercase<CapabilityShortName>}`;

/**
 * The sandbox options of `spawn`, `run` and `daemon` (docs/sandbox.md): applied in the child
 * between clone and exec, each failure named by its step.
 *
 * @see clone3(2), user_namespaces(7), pid_namespaces(7), network_namespaces(7), chroot(2),
 *   capabilities(7), prctl(2)
 * @example
 * ```ts
 * // Rootless: PID 1 and root inside, only its own processes in ps.
 * await run('ps', ['-e'], { namespaces: ['user', 'pid', 'mount'] });
 * ```
 */
export interface SandboxOptions {
  /**
   * New namespaces for the child (clone3(2) flags). `'user'` maps the caller's effective uid and
   * gid to 0 inside unless `uidMap` / `gidMap` say otherwise; `'pid'` with `'mount'` mounts a
   * fresh /proc; `'net'` brings up the loopback interface; `'mount'` makes / private first.
   * Without `'user'`, each needs CAP_SYS_ADMIN (root); with it, none does.
   */
  namespaces?: readonly NamespaceName[];
  /**
   * The uid map of the new user namespace, written by this process before the child goes on.
   * Default with `'user'`: `[{ inside: 0, outside: geteuid(), count: 1 }]`; `[]` maps nothing
   * (the child is the overflow uid, 65534, as Go leaves it). At most 340 lines, under a page of
   * text; `uid` must be among its inside ids.
   */
  uidMap?: readonly IdMapEntry[];
  /**
   * The gid map, as `uidMap` (default: the caller's egid as 0); `gid` and `groups` must be among
   * its inside ids. Without CAP_SETGID this process denies setgroups(2) in the child's namespace
   * first, as the kernel then requires.
   */
  gidMap?: readonly IdMapEntry[];
  /** The hostname in the child's new uts namespace (needs `'uts'`); 1 to 64 bytes. */
  hostname?: string;
  /** The child's root directory (chroot(2), then chdir to the new /); `cwd` is inside it. */
  chroot?: Bytes;
  /** Set no_new_privs (prctl(2) PR_SET_NO_NEW_PRIVS): setuid bits and file capabilities no longer grant anything. */
  noNewPrivileges?: boolean;
  /**
   * The capabilities the child keeps: every other one leaves its bounding set (so an exec cannot
   * give it back) and its permitted, effective and inheritable sets. `[]` keeps none.
   */
  capabilities?: readonly CapabilityName[];
  /**
   * Capabilities raised in the ambient set (made inheritable first): a program that does not run
   * as root keeps them across exec (e.g. `uid: 1000` with `['net_bind_service']`). They must be
   * permitted in the child (and within `capabilities`, if given).
   */
  ambientCapabilities?: readonly CapabilityName[];
}

/** @internal The sandbox options' names (for readSpawnOptions, run's and daemon's keys). */
export const SANDBOX_OPTION_KEYS = ['namespaces', 'uidMap', 'gidMap', 'hostname', 'chroot', 'noNewPrivileges', 'capabilities', 'ambientCapabilities'] as const;

/** @internal The clone(2) flag of each namespace (<sched.h>). */
export const NAMESPACE_FLAGS: Readonly<Record<NamespaceName, number>> = Object.freeze({
  user: 0x10000000,
  pid: 0x20000000,
  net: 0x40000000,
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  cgroup: 0x02000000,
  time: 0x00000080,
});

// <linux/capability.h>, in the order of their numbers.
const CAPABILITIES: readonly CapabilityShortName[] = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid',
  'setpcap', 'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw',
  'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct',
  'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod',
  'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog',
  'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore',
];
const CAPABILITY_NUMBERS = new Map(CAPABILITIES.map((name, number) => [name, number]));

/** The kernel's limit of lines in a uid or gid map (since Linux 4.15). */
const ID_MAP_MAX = 340;
const ID_MAX = 2 ** 32 - 2; // (uid_t) -1 is no id

/** @internal The number of a capability by name ('CAP_NET_BIND_SERVICE', 'net_bind_service'). */
export function capabilityNumber(value: unknown, name: string): number {
  if (typeof value !== 'string') throw invalidArgType(name, 'a capability name', value);
  const short = value.toLowerCase().replace(/^cap_/, '');
  const number = CAPABILITY_NUMBERS.get(short as CapabilityShortName);
  if (number === undefined) throw invalidArgValue(name, 'is not a capability (capabilities(7), e.g. CAP_NET_BIND_SERVICE)', value);
  return number;
}

function capabilitySet(value: unknown, name: string): bigint {
  let set = 0n;
  for (const number of validateArray(value, name, 64, (entry, list, i) => capabilityNumber(entry, `${list}[${i}]`))) set |= 1n << BigInt(number);
  return set;
}

// The kernel takes a map's text only in one write of less than a page (EINVAL otherwise).
let pageSize: number | undefined;

/** A map as the kernel reads it ("inside outside count" lines), checked line by line, for overlaps and for its size. */
function idMap(value: unknown, name: string): { entries: IdMapEntry[]; text: string } {
  const entries = validateArray(value, name, ID_MAP_MAX, (entry, list, i): IdMapEntry => {
    const at = `${list}[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw invalidArgType(at, 'an object { inside, outside, count }', entry);
    const { inside, outside, count } = entry as Record<string, unknown>;
    const line = { inside: validateInteger(inside, `${at}.inside`, 0, ID_MAX), outside: validateInteger(outside, `${at}.outside`, 0, ID_MAX), count: validateInteger(count, `${at}.count`, 1, ID_MAX + 1) };
    if (line.inside + line.count > ID_MAX + 1 || line.outside + line.count > ID_MAX + 1) throw outOfRange(`${at}.count`, 'a range that ends at 4294967295 at most', line.count);
    return line;
  });
  // The kernel refuses overlapping ranges on either side (EINVAL); said here, before anything runs.
  for (const side of ['inside', 'outside'] as const) {
    const sorted = [...entries].sort((a, b) => a[side] - b[side]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1]![side] + sorted[i - 1]!.count > sorted[i]![side]) throw invalidArgValue(name, `has overlapping ${side} ranges`, value);
    }
  }
  const text = entries.map((line) => `${line.inside} ${line.outside} ${line.count}\n`).join('');
  pageSize ??= binding.procfsUnits().pageSize;
  if (text.length >= pageSize) throw outOfRange(`${name}.length`, `a map whose text ("inside outside count" lines) is under ${pageSize} bytes`, entries.length);
  return { entries, text };
}

/** The map of this process's effective id to 0, the default of `'user'`. */
const ownIdAsRoot = (id: number): { entries: IdMapEntry[]; text: string } => ({ entries: [{ inside: 0, outside: id, count: 1 }], text: `0 ${id} 1\n` });

/** @internal Refuses an id that `map` does not have inside: its setresuid, setresgid or setgroups would be EINVAL in the child. */
export function checkMapped(id: number | undefined, map: readonly IdMapEntry[], name: string, mapName: string): void {
  if (id === undefined || map.some((line) => id >= line.inside && id < line.inside + line.count)) return;
  throw invalidArgValue(name, `is not mapped inside the new user namespace (${mapName})`, id);
}

/**
 * @internal Refuses a `pgid` to join when the request has a new pid namespace, whose child sees
 * no outer group: setpgid would fail with EPERM (or, for 1, make the child lead its own).
 * `why` names what asked for the namespace.
 */
export function checkNoOuterGroup(request: RawSpawnRequest, why: string): void {
  if (((request.namespaceFlags ?? 0) & NAMESPACE_FLAGS.pid) === 0 || request.pgid === undefined || request.pgid === 0) return;
  throw invalidArgValue('options.pgid', `cannot name a group to join from a new pid namespace (${why}); 0 makes the child lead its own`, request.pgid);
}

/**
 * @internal Validates the sandbox options (before anything runs) and adds them to `request`.
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`, RangeError `ERR_OUT_OF_RANGE`.
 */
export function sandboxRequest(options: SandboxOptions, request: RawSpawnRequest): void {
  const { namespaces, uidMap, gidMap, hostname, chroot, noNewPrivileges, capabilities, ambientCapabilities } = options;
  let flags = 0;
  if (namespaces !== undefined) {
    for (const namespace of validateArray(namespaces, 'options.namespaces', 16, (entry) => entry)) {
      if (typeof namespace !== 'string' || !isOwnKey(NAMESPACE_FLAGS, namespace)) {
        throw invalidArgValue('options.namespaces', `has ${String(namespace)}, not one of ${Object.keys(NAMESPACE_FLAGS).join(', ')}`, namespaces);
      }
      flags |= NAMESPACE_FLAGS[namespace as NamespaceName];
    }
    request.namespaceFlags = flags;
  }
  checkNoOuterGroup(request, "'pid' in options.namespaces");
  const newUser = (flags & NAMESPACE_FLAGS.user) !== 0;
  if ((uidMap !== undefined || gidMap !== undefined) && !newUser) throw invalidArgValue(uidMap !== undefined ? 'options.uidMap' : 'options.gidMap', "needs namespaces: ['user']", uidMap ?? gidMap);
  if (newUser) {
    const uids = uidMap === undefined ? ownIdAsRoot(process.geteuid!()) : idMap(uidMap, 'options.uidMap');
    const gids = gidMap === undefined ? ownIdAsRoot(process.getegid!()) : idMap(gidMap, 'options.gidMap');
    // uid, gid and groups are set inside the namespace, after the maps.
    checkMapped(request.uid, uids.entries, 'options.uid', 'options.uidMap');
    checkMapped(request.gid, gids.entries, 'options.gid', 'options.gidMap');
    request.groups?.forEach((group, i) => checkMapped(group, gids.entries, `options.groups[${i}]`, 'options.gidMap'));
    if (uids.text !== '') request.uidMap = uids.text;
    if (gids.text !== '') request.gidMap = gids.text;
  }
  if (hostname !== undefined) {
    if (typeof hostname !== 'string') throw invalidArgType('options.hostname', 'a string', hostname);
    const length = Buffer.byteLength(hostname);
    if (length < 1 || length > 64 || hostname.includes('\0')) throw invalidArgValue('options.hostname', 'must be 1 to 64 bytes without NUL', hostname);
    if ((flags & NAMESPACE_FLAGS.uts) === 0) throw invalidArgValue('options.hostname', "needs namespaces: ['uts']", hostname);
    request.hostname = hostname;
  }
  if (chroot !== undefined) request.chroot = validateBytes(chroot, 'options.chroot');
  if (noNewPrivileges !== undefined && validateBoolean(noNewPrivileges, 'options.noNewPrivileges')) request.noNewPrivileges = true;
  if (capabilities !== undefined) request.capabilities = capabilitySet(capabilities, 'options.capabilities');
  if (ambientCapabilities !== undefined) {
    const ambient = capabilitySet(ambientCapabilities, 'options.ambientCapabilities');
    if (request.capabilities !== undefined && (ambient & ~request.capabilities) !== 0n) {
      throw invalidArgValue('options.ambientCapabilities', 'must be among options.capabilities', ambientCapabilities);
    }
    if (ambient !== 0n) request.ambientCapabilities = ambient;
  }
}
