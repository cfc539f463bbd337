import net from 'node:net';

/**
 * A TCP proxy in front of a real service, so a test can make Postgres or Redis "go down" and
 * "come back" for one process without touching the shared server. Two kinds of failure:
 *
 * - **cut** (`stop()`, then `start()`): every open connection is closed and new ones are refused,
 *   as when the server restarts. Both ends learn it at once.
 * - **blackhole** (`blackhole()`, then `heal()`): nothing passes any more, in either direction,
 *   and nothing is closed, as in a network partition or a NAT / load-balancer / firewall that
 *   dropped its flows silently. New connections are accepted and get no answer. After `heal()`
 *   new connections pass again; the connections that were blackholed stay silent for good (their
 *   flows are gone): neither end ever hears from the other, and a close on one side is not passed
 *   on. Only each end's own timeouts end them.
 */
interface Link {
  client: net.Socket;
  upstream?: net.Socket;
  /** Blackholed: no byte and no close passes any more. */
  silent: boolean;
}

export class TcpProxy {
  private server?: net.Server;
  private readonly links = new Set<Link>();
  private holed = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Listens (again) on `port`, forwarding new connections; ends a blackhole. */
  async start(port = this.port): Promise<void> {
    this.holed = false;
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Refuses new connections and cuts open ones (including blackholed ones). */
  async stop(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream?.destroy();
    }
    this.links.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Stops forwarding without closing anything (see the class comment). */
  blackhole(): void {
    this.holed = true;
    for (const link of this.links) this.silence(link);
  }

  /** New connections pass again; the blackholed ones stay silent. */
  heal(): void {
    this.holed = false;
  }

  /** Connections that are blackholed and still open at the client end. */
  get silentConnections(): number {
    let n = 0;
    for (const link of this.links) if (link.silent && !link.client.destroyed) n++;
    return n;
  }

  private accept(client: net.Socket): void {
    const link: Link = { client, silent: false };
    this.links.add(link);
    client.on('error', () => this.closed(link));
    client.on('close', () => this.closed(link));
    if (this.holed) {
      this.silence(link);
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('error', () => this.closed(link));
    upstream.on('close', () => this.closed(link));
    client.pipe(upstream).pipe(client);
  }

  /** One end closed: a forwarding link passes the close on; a silent one does not. */
  private closed(link: Link): void {
    if (link.silent) {
      if (link.client.destroyed && (link.upstream?.destroyed ?? true)) this.links.delete(link);
      return;
    }
    link.client.destroy();
    link.upstream?.destroy();
    this.links.delete(link);
  }

  private silence(link: Link): void {
    if (link.silent) return;
    link.silent = true;
    const { client, upstream } = link;
    if (upstream) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.pause();
    }
    // Bytes already read or still arriving are dropped, as the network would.
    client.pause();
  }
}
