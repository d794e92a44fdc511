// Who may log in, and as whom Sluice then talks to the backend. Users come from the config file, or —
// pass-through — from the primary's mysql.user (read with the monitor account, refreshed periodically
// and on demand when an unknown user tries to log in).
import { nativeStage1, nativeStage2FromStage1, parseNativeHash, sha2Stage2, sha256 } from '../protocol/auth.js';
import type { BackendCredentials } from '../backend/connection.js';
import type { AdminChannel } from '../backend/admin-channel.js';
import type { SluiceConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';

export type AuthPluginName = 'mysql_native_password' | 'caching_sha2_password';

export interface ClientUser {
  name: string;
  source: 'config' | 'passthrough';
  plugin: AuthPluginName;
  /** SHA1(SHA1(pw)); null for an account without password. */
  nativeStage2: Buffer | null;
  /** Plaintext, when the config gives it. */
  password: string | null;
  /** SHA256(SHA256(pw)) for caching_sha2 fast auth; learnt after a full auth for pass-through users. */
  sha2Stage2: Buffer | null;
  maxConnections: number;
  defaultSchema: string | null;
  /** Backend login; for pass-through users the SHA1(pw) is learnt at the client's first login. */
  backend: BackendCredentials;
  /** Host patterns from mysql.user (pass-through only). */
  hosts: string[];
  route: 'auto' | 'primary' | 'replica';
  consistency: 'eventual' | 'session' | 'instance' | 'global' | null;
  /** May run SLUICE SHOW / SLUICE SET (config users with `admin: true`). */
  admin: boolean;
}

export class UserDirectory {
  private readonly configUsers = new Map<string, ClientUser>();
  private passthrough = new Map<string, ClientUser>();
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private config: SluiceConfig,
    private readonly admin: AdminChannel | null,
    private readonly log: Logger,
  ) {
    this.loadConfigUsers(config);
  }

  loadConfigUsers(config: SluiceConfig): void {
    this.config = config;
    this.configUsers.clear();
    for (const u of config.users) {
      const stage2 = u.password !== null ? (u.password === '' ? null : nativeStage2FromStage1(nativeStage1(u.password))) : parseNativeHash(u.password_hash ?? '');
      this.configUsers.set(u.name, {
        name: u.name,
        source: 'config',
        plugin: u.auth_plugin,
        nativeStage2: stage2,
        password: u.password,
        sha2Stage2: u.password !== null ? sha2Stage2(u.password) : null,
        maxConnections: u.max_connections,
        defaultSchema: u.default_schema,
        backend: { user: u.backend_user, password: u.backend_password },
        hosts: ['%'],
        route: u.route,
        consistency: u.consistency,
        admin: u.admin,
      });
    }
  }

  start(): void {
    if (!this.config.passthrough_users.enabled || !this.admin) return;
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.config.passthrough_users.refresh_interval_ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Finds a user; unknown pass-through names trigger one refresh (at most every 2 s). */
  async lookup(name: string, host: string): Promise<ClientUser | null> {
    const c = this.configUsers.get(name);
    if (c) return c;
    if (!this.config.passthrough_users.enabled || !this.admin) return null;
    let u = this.passthrough.get(name);
    if (!u && Date.now() - this.lastRefresh > 2000) {
      await this.refresh().catch((err: Error) => this.log.warn({ err: err.message }, 'reading mysql.user failed'));
      u = this.passthrough.get(name);
    }
    if (!u) return null;
    return u.hosts.some((h) => hostMatches(h, host)) ? u : null;
  }

  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const rows = await this.admin!.rows(
      "SELECT User, Host, IF(plugin IN ('mysql_native_password',''), IF(authentication_string<>'', authentication_string, Password), '') AS hash, plugin FROM mysql.user WHERE is_role='N'",
    );
    this.lastRefresh = Date.now();
    const next = new Map<string, ClientUser>();
    for (const [user, host, hash, plugin] of rows) {
      if (user === null || user === '' || host === null) continue;
      if (plugin !== null && plugin !== '' && plugin !== 'mysql_native_password') continue; // cannot verify other plugins
      const stage2 = hash ? parseNativeHash(hash) : null;
      if (hash && !stage2) continue;
      const existing = next.get(user);
      if (existing) {
        existing.hosts.push(host);
        continue;
      }
      const prev = this.passthrough.get(user);
      const samePassword = prev && ((prev.nativeStage2 === null && stage2 === null) || (prev.nativeStage2 && stage2 && prev.nativeStage2.equals(stage2)));
      next.set(user, {
        name: user,
        source: 'passthrough',
        plugin: 'mysql_native_password',
        nativeStage2: stage2,
        password: null,
        sha2Stage2: samePassword ? prev!.sha2Stage2 : null,
        maxConnections: 0,
        defaultSchema: null,
        backend: samePassword ? prev!.backend : { user },
        hosts: [host],
        route: 'auto',
        consistency: null,
        admin: false,
      });
    }
    this.passthrough = next;
  }

  /** After a successful login: remember what lets Sluice log in to the backend (and fast-auth next time). */
  learnFromLogin(user: ClientUser, stage1: Buffer | null, plaintext: string | null): void {
    if (user.source !== 'passthrough') return;
    if (plaintext !== null) {
      user.sha2Stage2 = sha256(sha256(Buffer.from(plaintext, 'utf8')));
      stage1 = nativeStage1(plaintext);
    }
    if (stage1 !== null && !user.backend.stage1) user.backend = { user: user.name, stage1 };
  }
}

/** mysql.user host pattern match (% and _ wildcards); loopback names are treated alike. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '%' || pattern === host) return true;
  const loop = (h: string) => h === 'localhost' || h === '127.0.0.1' || h === '::1';
  if (loop(pattern) && loop(host)) return true;
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\*?]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.') + '$', 'i');
  return re.test(host);
}

