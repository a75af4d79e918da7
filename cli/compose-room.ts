// Which room chatd runs: the single node's, or a cluster node's through Redis (--redis). The one
// module that knows both server/ and cluster/, so that neither imports the other.

import { ClusterRoom, newNodeId } from '../cluster/cluster-room.ts';
import { RedisLink } from '../cluster/redis-link.ts';
import { SingleNodeRoom } from '../room/single-node-room.ts';
import type { HistoryParts } from '../room/room-core.ts';
import type { ServerConfig } from '../server/config.ts';
import type { RoomFactory } from '../server/primary.ts';

export { ClusterError } from '../cluster/cluster-link.ts';

/**
 * The room for this configuration; `motd` is the message of the day read at start, `history`
 * what --data-dir kept and where new entries go (none without it).
 */
export function roomFor(config: ServerConfig, motd: readonly string[], history: HistoryParts = {}): RoomFactory {
  const settings = { ...config, motd };
  const redisUrl = config.redisUrl;
  if (redisUrl === null) return (parts) => new SingleNodeRoom(settings, { ...parts, history });
  return (parts) => {
    const node = newNodeId();
    return new ClusterRoom(settings, { ...parts, node, link: new RedisLink(redisUrl, parts.log.child({ node })) });
  };
}
