// Minimal Node.js TCP relay: the floor any Node-based proxy pays (accept, connect, pipe both ways).
// Nothing protocol-aware, no buffering of its own, TCP_NODELAY on both sides (as Sluice and HAProxy do).
//
// usage: node bench/node-relay.mjs <listen-port|0> <target-host> <target-port>
// Prints {"port":N} on stdout once listening. Exits on SIGTERM/SIGINT, and (with BENCH_STDIN_LIFELINE=1, as
// the benchmark driver starts it) when stdin closes, so it cannot outlive the driver.
import net from 'node:net';

const [listenPort = '0', targetHost = '127.0.0.1', targetPort] = process.argv.slice(2);
if (!targetPort) {
  console.error('usage: node-relay.mjs <listen-port> <target-host> <target-port>');
  process.exit(2);
}

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: targetHost, port: Number(targetPort), noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.on('error', (err) => {
  console.error(`node-relay: ${err.message}`);
  process.exit(1);
});
server.listen(Number(listenPort), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.BENCH_STDIN_LIFELINE === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
