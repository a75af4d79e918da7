// ADDR, the client's address as every seed line shows it (PROTOCOL.md §2.4).

/** `ip:port`, or `[ip]:port` for IPv6; an IPv4-mapped IPv6 address is shown as the IPv4 it is. */
export function formatAddress(ip: string, port: number): string {
  if (ip.startsWith('::ffff:') && ip.includes('.')) return `${ip.slice(7)}:${port}`;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
